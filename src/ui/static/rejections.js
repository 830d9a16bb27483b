// Recent rejections: trades refused at intake (Kafka or HTTP) with their reason, newest first,
// from GET /rejections; "not available" on a service without it.
import * as api from "/ui/api.js";
import { h, clear, formatTime, notAvailable, problem, table } from "/ui/dom.js";

export function render(main) {
  const source = h("select", { name: "source", "aria-label": "source" },
    h("option", { value: "" }, "any source"), h("option", { value: "kafka" }, "kafka"), h("option", { value: "http" }, "http"));
  const reason = h("input", { type: "text", name: "reason", placeholder: "reason code", "aria-label": "reason code" });
  const trade = h("input", { type: "text", name: "trade_id", placeholder: "trade id", "aria-label": "trade id" });
  const form = h("form", { class: "inline" }, source, reason, trade, h("button", { type: "submit" }, "Filter"));
  const results = h("div", {}, "Loading…");
  const more = h("button", { type: "button", hidden: true }, "More");
  let cursor = null;
  async function load(reset) {
    if (reset) {
      cursor = null;
      clear(results);
    }
    const res = await api.get("/rejections" + api.query({ source: source.value, reason: reason.value.trim(),
      trade_id: trade.value.trim(), limit: 50, cursor }));
    if (!res.ok) {
      clear(results).append(res.status === 404 && res.error.code !== "invalid_parameter"
        ? notAvailable("Rejections") : problem(res, "rejections"));
      more.hidden = true;
      return;
    }
    results.append(table([
      { title: "Received", cell: (r) => formatTime(r.received_at) },
      { title: "Source", cell: (r) => r.source === "kafka" ? `kafka ${r.topic}[${r.partition}]@${r.offset}` : `http from ${r.remote_address || "?"}` },
      { title: "Trade", cell: (r) => h("span", { class: "mono" }, r.trade_id || "—") },
      { title: "Reason", cell: (r) => h("span", {}, h("strong", {}, r.reason), r.field ? ` (${r.field})` : "", ": ", r.message) },
      { title: "Excerpt", cell: (r) => h("code", { class: "excerpt" }, (r.excerpt || "") + (r.excerpt_truncated ? ` … (${r.original_size} bytes)` : "")) },
    ], res.body.items, "No rejection recorded.", { dataset: { testid: "rejection-list" } }));
    cursor = res.body.next_cursor;
    more.hidden = !cursor;
  }
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    load(true);
  });
  more.addEventListener("click", () => load(false));
  main.append(h("h1", {}, "Recent rejections"), form, results, more);
  load(true);
}
