// Reconciliation: the reconciler's status (clean or drift), its passes and open findings by kind,
// and the findings with their evidence; an operator acknowledges one. "Not available" on a
// service without GET /reconciliation.
import * as api from "/ui/api.js";
import { h, clear, facts, formatCount, formatTime, jsonFacts, notAvailable, problem, settlementLink, table } from "/ui/dom.js";

export function render(main) {
  const status = h("select", { name: "status", "aria-label": "finding status" },
    h("option", { value: "" }, "all findings"), h("option", { value: "open" }, "open"),
    h("option", { value: "resolved" }, "resolved"), h("option", { value: "acknowledged" }, "acknowledged"));
  const body = h("div", {}, "Loading…");
  async function load() {
    const res = await api.get("/reconciliation" + api.query({ status: status.value, limit: 100 }));
    clear(body);
    if (!res.ok) {
      body.append(res.status === 404 ? notAvailable("Reconciliation") : problem(res, "reconciliation"));
      return;
    }
    const r = res.body;
    const kinds = Object.entries(r.open_by_kind || {}).filter(([, n]) => n > 0);
    body.append(
      h("p", {}, h("span", { class: "badge " + (r.status === "clean" ? "status-settled" : "status-failed"), dataset: { testid: "recon-status" } }, r.status)),
      facts([["Last pass", formatTime(r.last_pass_at)], ["Passes", formatCount(r.passes)],
        ["Settlements checked", formatCount(r.checked_settlements)], ["Watermark", r.watermark === null ? null : String(r.watermark)],
        ["Open findings by kind", kinds.length ? kinds.map(([k, n]) => `${k}: ${n}`).join(", ") : "none"]]),
      h("h2", {}, "Findings"),
      table([
        { title: "Found", cell: (f) => formatTime(f.found_at) },
        { title: "Kind", cell: (f) => h("strong", {}, f.kind) },
        { title: "Settlement", cell: (f) => f.settlement_id ? settlementLink(f.settlement_id) : (f.trade_id || "—") },
        { title: "Evidence", cell: (f) => jsonFacts(f.evidence) },
        { title: "Status", cell: (f) => f.status === "acknowledged" ? `acknowledged by ${f.acknowledged_by} at ${formatTime(f.acknowledged_at)}` : f.status },
        { title: "", cell: (f) => ackButton(f) },
      ], r.findings || [], "No finding.", { dataset: { testid: "finding-list" } }));
  }
  function ackButton(f) {
    if (f.status === "acknowledged" || !api.mayAct("operator")) return "";
    const b = h("button", { type: "button" }, "Acknowledge");
    b.addEventListener("click", async () => {
      b.disabled = true;
      const res = await api.post(`/reconciliation/findings/${encodeURIComponent(f.id)}/acknowledge`, {});
      if (!res.ok) {
        b.replaceWith(problem(res, "the acknowledgement"));
        return;
      }
      load();
    });
    return b;
  }
  status.addEventListener("change", load);
  main.append(h("h1", {}, "Reconciliation"), h("p", { class: "muted" },
    "PostgreSQL, the ledger and the published events compared continuously; any drift is a finding."),
  h("form", { class: "inline" }, h("label", {}, "Show ", status)), body);
  load();
}
