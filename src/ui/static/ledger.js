// Ledger: total and locked amount of every asset (conserved by every settlement), and an account's
// holdings and balances with its settlements. An account holder sees only its own accounts: the
// service answers "not found" for any other, and the page says so.
import * as api from "/ui/api.js";
import { h, clear, problem, settlementLink, statusBadge, table, formatTime } from "/ui/dom.js";

export function render(main) {
  const totals = h("div", {}, "Loading…");
  const account = h("input", { type: "text", name: "account_id", placeholder: "acc_…", "aria-label": "account id" });
  const form = h("form", { class: "inline" }, h("label", {}, "Account ", account), h("button", { type: "submit" }, "Show holdings"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (account.value.trim()) location.hash = "#/accounts/" + encodeURIComponent(account.value.trim());
  });
  const claims = api.currentClaims();
  const mine = claims && Array.isArray(claims.accounts) ? claims.accounts : [];
  main.append(h("h1", {}, "Ledger"),
    h("section", {}, h("h2", {}, "Accounts"), form,
      mine.length ? h("p", {}, "Your accounts: ", mine.map((a, i) => [i ? ", " : "", h("a", { href: "#/accounts/" + encodeURIComponent(a) }, a)])) : null),
    h("section", {}, h("h2", {}, "Totals per asset"), totals));
  api.get("/ledger/totals").then((res) => {
    clear(totals);
    if (!res.ok) {
      totals.append(problem(res, "the ledger totals"));
      return;
    }
    totals.append(table([
      { title: "Asset", cell: (t) => h("strong", {}, t.asset) },
      { title: "Total", cell: (t) => t.total, class: "num" },
      { title: "Locked", cell: (t) => t.locked, class: "num" },
    ], res.body.totals, "No asset on the ledger yet.", { dataset: { testid: "totals" } }));
  });
}

export function renderAccount(main, [id]) {
  const holdings = h("div", {}, "Loading…");
  const settlements = h("div", {}, "Loading…");
  main.append(h("h1", {}, "Account ", h("span", { class: "mono" }, id)),
    h("section", {}, h("h2", {}, "Balances and holdings"), holdings),
    h("section", {}, h("h2", {}, "Settlements"), settlements));
  api.get(`/accounts/${encodeURIComponent(id)}/holdings`).then((res) => {
    clear(holdings);
    if (!res.ok) {
      holdings.append(res.status === 404
        ? h("p", { class: "notice warn", dataset: { testid: "holdings-not-found" } }, `${res.error.message} (or not one of your accounts).`)
        : problem(res, "the holdings"));
      return;
    }
    const b = res.body;
    holdings.append(h("p", { class: "muted" }, "Party ", h("span", { class: "mono" }, b.canton_party)),
      table([{ title: "Asset", cell: (x) => h("strong", {}, x.asset) },
        { title: "Free", cell: (x) => x.free, class: "num" },
        { title: "Locked", cell: (x) => x.locked, class: "num" }], b.balances, "No balance.", { dataset: { testid: "balances" } }),
      h("details", {}, h("summary", {}, `${b.holdings.length} holding contracts`),
        table([{ title: "Contract", cell: (x) => h("span", { class: "mono" }, x.contract_id) },
          { title: "Asset", cell: (x) => x.asset }, { title: "Amount", cell: (x) => x.amount, class: "num" },
          { title: "Locked", cell: (x) => x.locked ? "locked to " + x.lock_dvp_contract_id : "no" },
          { title: "Synchronizer", cell: (x) => x.synchronizer }], b.holdings)));
  });
  api.get("/settlements" + api.query({ account_id: id, limit: 50 })).then((res) => {
    clear(settlements);
    if (!res.ok) {
      settlements.append(problem(res, "its settlements"));
      return;
    }
    settlements.append(table([
      { title: "Settlement", cell: (s) => settlementLink(s.settlement_id) },
      { title: "Status", cell: (s) => statusBadge(s.status) },
      { title: "Side", cell: (s) => (s.buyer_account_id === id ? "buys " : "sells ") + s.quantity + " " + s.symbol },
      { title: "Amount", cell: (s) => s.amount, class: "num" },
      { title: "Created", cell: (s) => formatTime(s.created_at) },
    ], res.body.settlements, "No settlement of this account (that you may see).", { dataset: { testid: "account-settlements" } }));
  });
}
