// Settlements: the operator's "stuck & failed" lists with retry, a search by id, account and
// status, and one settlement's page (facts, ledger references, audit timeline, retry).
import * as api from "/ui/api.js";
import {
  h, clear, facts, formatTime, jsonFacts, problem, settlementLink, statusBadge, table,
} from "/ui/dom.js";

const RETRYABLE = new Set(["failed", "partially_settled"]);

function reasonOf(s) {
  if (s.failure_code) return `${s.failure_code}: ${s.failure_reason || ""}`;
  if (s.last_error) return "last error: " + s.last_error;
  return "";
}

// Why a settlement is on the stuck list (the filter of GET /settlements?stuck=true).
function stuckWhy(s, minAttempts) {
  const now = Date.now();
  const why = [];
  if (s.status !== "confirmed" && s.deadline_at && Date.parse(s.deadline_at) < now) why.push("past deadline");
  if (s.step_attempt > 0 && s.next_attempt_at && Date.parse(s.next_attempt_at) > now)
    why.push("retrying at " + formatTime(s.next_attempt_at));
  if (s.step_attempt >= minAttempts) why.push(s.step_attempt + " step attempts");
  return why.join(", ");
}

function retryMessage(r) {
  return `${r.message}: ${r.settlement_id} is now ${r.status} (retry ${r.retry_count})`;
}

// A page-level confirmation of a retry (it outlives the list or page redrawn after it).
function retried(notice, r) {
  clear(notice).append(h("p", { class: "notice ok", role: "status", dataset: { testid: "retry-done" } },
    retryMessage(r)));
}

// A retry control: a button that opens a reason field and a confirm button. `done` is called with
// the API's answer after a successful retry.
export function retryControl(s, done) {
  const box = h("span", { class: "retry" });
  if (!RETRYABLE.has(s.status) || !api.mayAct("operator")) return box;
  const open = h("button", { type: "button", dataset: { testid: "retry-" + s.settlement_id } }, "Retry");
  box.append(open);
  open.addEventListener("click", () => {
    clear(box);
    const reason = h("input", { type: "text", value: "retried from the dashboard", maxlength: 500,
      "aria-label": "reason for the retry", dataset: { testid: "retry-reason" }, required: true });
    const confirm = h("button", { type: "submit", class: "primary", dataset: { testid: "retry-confirm" } }, "Confirm retry");
    const cancel = h("button", { type: "button", onclick: () => { clear(box); box.append(open); } }, "Cancel");
    const msg = h("span", { class: "retry-msg", role: "status" });
    const form = h("form", { class: "retry-form" }, reason, confirm, cancel, msg);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!reason.value.trim()) {
        msg.textContent = "A reason is required (it is recorded in the audit log).";
        return;
      }
      confirm.disabled = true;
      const res = await api.post(`/settlements/${encodeURIComponent(s.settlement_id)}/retry`, { reason: reason.value.trim() });
      confirm.disabled = false;
      if (!res.ok) {
        clear(msg).append(problem(res, "the retry"));
        return;
      }
      clear(box).append(h("span", { class: "ok" }, retryMessage(res.body)));
      if (done) done(res.body);
    });
    box.append(form);
    reason.focus();
  });
  return box;
}

const idColumn = { title: "Settlement", cell: (s) => settlementLink(s.settlement_id) };
const tradeColumn = { title: "Trade", cell: (s) => h("span", { class: "mono" }, s.trade_id) };
const statusColumn = { title: "Status", cell: (s) => statusBadge(s.status) };
const partiesColumn = { title: "Buyer / seller", cell: (s) => `${s.buyer_account_id} / ${s.seller_account_id}` };
const amountColumn = { title: "Quantity × symbol = amount", cell: (s) => `${s.quantity} ${s.symbol} = ${s.amount}`, class: "num" };

function withData(rows) {
  return rows.map((s) => Object.assign({ __data: { settlement: s.settlement_id } }, s));
}

async function listInto(el, path, what, columns, empty, testid) {
  const res = await api.get(path);
  clear(el);
  if (!res.ok) {
    el.append(problem(res, what));
    return;
  }
  const b = res.body;
  el.append(
    h("p", { class: "muted small" }, `${b.total}${b.total_capped ? "+" : ""} in all` +
      (b.settlements.length < b.total ? `, newest ${b.settlements.length} shown` : "")),
    table(columns, withData(b.settlements), empty, { dataset: { testid } }));
}

export function renderAttention(main) {
  const notice = h("div", {});
  const failed = h("div", {}, "Loading…");
  const stuck = h("div", {}, "Loading…");
  const refresh = () => {
    listInto(failed, "/settlements?status=failed,partially_settled&limit=100", "failed settlements",
      [idColumn, tradeColumn, statusColumn,
        { title: "Reason", cell: (s) => reasonOf(s) },
        { title: "Created", cell: (s) => formatTime(s.created_at) },
        { title: "Retries", cell: (s) => String(s.retry_count), class: "num" },
        { title: "", cell: (s) => retryControl(s, (r) => { retried(notice, r); refresh(); }) }],
      "No failed or partially settled settlement.", "failed-list");
    listInto(stuck, "/settlements?stuck=true&limit=100", "stuck settlements",
      [idColumn, tradeColumn, statusColumn,
        { title: "Why", cell: (s) => stuckWhy(s, 3) },
        { title: "Last error", cell: (s) => s.last_error || "—" },
        { title: "Deadline", cell: (s) => formatTime(s.deadline_at) },
        { title: "Attempts", cell: (s) => String(s.step_attempt), class: "num" }],
      "Nothing is stuck.", "stuck-list");
  };
  main.append(
    h("h1", {}, "Stuck & failed"),
    h("p", { class: "muted" }, "Failed settlements hold no locks; a retry resumes each at the earliest step " +
      "whose ledger effect is not in place, with a new deadline. Stuck: active settlements past their deadline, " +
      "waiting for a retry, or with 3 or more attempts at their current step."),
    notice,
    h("section", {}, h("h2", {}, "Failed and partially settled"), failed),
    h("section", {}, h("h2", {}, "Stuck"), stuck),
    h("button", { type: "button", onclick: refresh }, "Refresh"));
  refresh();
}

export function renderSearch(main, params, query) {
  const idInput = h("input", { type: "text", name: "id", placeholder: "set_…", "aria-label": "settlement id" });
  const goForm = h("form", { class: "inline" }, h("label", {}, "Settlement id ", idInput),
    h("button", { type: "submit" }, "Open"));
  goForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const id = idInput.value.trim();
    if (id) location.hash = "#/settlements/" + encodeURIComponent(id);
  });
  const account = h("input", { type: "text", name: "account_id", value: query.get("account_id") || "", "aria-label": "account id" });
  const status = h("input", { type: "text", name: "status", value: query.get("status") || "", placeholder: "failed,pending", "aria-label": "statuses" });
  const filter = h("form", { class: "inline" }, h("label", {}, "Account ", account),
    h("label", {}, "Status ", status), h("button", { type: "submit" }, "List"));
  const results = h("div", {});
  let cursor = null;
  const more = h("button", { type: "button", hidden: true }, "More");
  async function load(reset) {
    if (reset) {
      cursor = null;
      clear(results);
    }
    const res = await api.get("/settlements" + api.query({ account_id: account.value.trim(), status: status.value.trim(), limit: 50, cursor }));
    if (!res.ok) {
      results.append(problem(res, "settlements"));
      more.hidden = true;
      return;
    }
    if (reset) results.append(h("p", { class: "muted small" }, `${res.body.total}${res.body.total_capped ? "+" : ""} match`));
    results.append(table([idColumn, tradeColumn, statusColumn, partiesColumn, amountColumn,
      { title: "Created", cell: (s) => formatTime(s.created_at) }], withData(res.body.settlements),
    "No settlement matches.", { dataset: { testid: "settlement-list" } }));
    cursor = res.body.next_cursor;
    more.hidden = !cursor;
  }
  filter.addEventListener("submit", (ev) => {
    ev.preventDefault();
    load(true);
  });
  more.addEventListener("click", () => load(false));
  main.append(h("h1", {}, "Settlements"), goForm, filter, results, more);
  load(true);
}

function timeline(events) {
  return h("ol", { class: "timeline", dataset: { testid: "timeline" } }, events.map((e) =>
    h("li", { dataset: { status: e.status } },
      h("div", { class: "when" }, formatTime(e.created_at)),
      h("div", {}, statusBadge(e.status), " ", h("span", { class: "mono muted" }, e.event_type + " #" + e.position)),
      jsonFacts(e.details))));
}

export function renderOne(main, [id]) {
  const head = h("h1", {}, "Settlement ", h("span", { class: "mono" }, id));
  const notice = h("div", {});
  const body = h("div", {}, "Loading…");
  main.append(head, notice, body);
  let timer = null;
  async function load() {
    const [res, ev] = await Promise.all([
      api.get("/settlements/" + encodeURIComponent(id)),
      api.get("/settlements/" + encodeURIComponent(id) + "/events"),
    ]);
    clear(body);
    if (!res.ok) {
      body.append(res.status === 404
        ? h("p", { class: "notice warn", dataset: { testid: "settlement-not-found" } },
          `${res.error.message} (or not one of your accounts').`)
        : problem(res, "this settlement"));
      return;
    }
    const s = res.body;
    const active = !["settled", "failed", "partially_settled"].includes(s.status);
    body.append(h("div", {},
      h("p", {}, h("span", { dataset: { testid: "settlement-status" } }, statusBadge(s.status)), " ",
        retryControl(s, (r) => { retried(notice, r); load(); })),
      s.failure_code ? h("p", { class: "notice error", dataset: { testid: "failure" } },
        `${s.failure_code} at ${s.failed_step || "?"}: ${s.failure_reason}`) : null,
      h("div", { class: "columns" },
        h("section", {}, h("h2", {}, "Trade"), facts([
          ["Trade id", s.trade_id], ["Buyer", s.buyer_account_id], ["Seller", s.seller_account_id],
          ["Symbol", s.symbol], ["Quantity", s.quantity], ["Price", s.price], ["Amount", s.amount],
          ["Partial allowed", s.allow_partial ? "yes" : "no"], ["Executed", formatTime(s.executed_at)],
          ["Settlement date", (s.settlement_date || "").slice(0, 10)],
          ["Settled so far", `${s.settled_quantity} for ${s.settled_amount}`]])),
        h("section", {}, h("h2", {}, "Progress"), facts([
          ["Created", formatTime(s.created_at)], ["Initiated", formatTime(s.initiated_at)],
          ["Confirmed", formatTime(s.confirmed_at)], ["Settled", formatTime(s.settled_at)],
          ["Failed", formatTime(s.failed_at)], ["Retries", String(s.retry_count)],
          ["Step attempts", String(s.step_attempt)], ["Last error", s.last_error],
          ["Deadline", formatTime(s.deadline_at)], ["Next attempt", formatTime(s.next_attempt_at)]])),
        h("section", {}, h("h2", {}, "Ledger references"), facts([
          ["DvP contract", s.dvp_contract_id, "ref-dvp"],
          ["Seller's securities lock", s.seller_securities_ledger_ref],
          ["Buyer's cash lock", s.buyer_cash_ledger_ref],
          ["Securities for the buyer", s.buyer_securities_ledger_ref],
          ["Cash for the seller", s.seller_cash_ledger_ref],
          ["Settle transaction (update id)", s.dvp_atomic_transaction_id, "ref-tx"]], { class: "facts mono-values" }))),
      h("section", {}, h("h2", {}, "Audit timeline"),
        ev.ok ? timeline(ev.body.events) : problem(ev, "its events"))));
    clearTimeout(timer);
    if (active) timer = setTimeout(load, 1000);  // follow it until it rests
  }
  load();
  return () => clearTimeout(timer);
}
