// Overview: counts by state, this instance's throughput and confirmation latency, Kafka consumer
// lag, outbox relay backlog and role, dependency health, and the reconciler's drift. Polls
// GET /overview every 2 s and GET /reconciliation every 10 s while shown.
import * as api from "/ui/api.js";
import { h, svg, clear, formatCount, formatMs, formatRate, formatTime, problem } from "/ui/dom.js";

const PIPELINE = ["pending", "initiated", "seller_securities_locked", "buyer_cash_locked",
  "executing", "confirmed", "settled", "partially_settled", "failed"];
const POLL_MS = 2000;
const DRIFT_POLL_MS = 10000;

function card(title, value, testid, extra) {
  return h("div", { class: "card", dataset: { testid } },
    h("div", { class: "card-title" }, title),
    h("div", { class: "card-value", dataset: { testid: testid + "-value" } }, value),
    extra ? h("div", { class: "card-extra" }, extra) : null);
}

function countsSection(o) {
  const capped = new Set(o.counts_capped || []);
  const shown = (s) => formatCount(o.counts[s]) + (capped.has(s) ? "+" : "");
  return h("section", {},
    h("h2", {}, o.scope === "accounts" ? `Settlements of ${o.accounts.join(", ")}` : "Settlements by state"),
    h("div", { class: "pipeline" }, PIPELINE.map((s) =>
      h("a", { class: "state state-" + s, href: "#/settlements?status=" + s, dataset: { testid: "count-" + s } },
        h("span", { class: "state-name" }, s.replace(/_/g, " ")),
        h("span", { class: "state-count", dataset: { testid: "count-" + s + "-value" } }, shown(s))))),
    h("div", { class: "cards" },
      card("Active", formatCount(o.active), "active"),
      card("Stuck", formatCount(o.stuck) + (o.stuck_capped ? "+" : ""), "stuck",
        h("a", { href: "#/attention" }, "past deadline, retrying, or ≥ " + o.stuck_min_step_attempts + " attempts")),
      card("Failed", shown("failed"), "failed", h("a", { href: "#/attention" }, "retry from the list"))));
}

function sparkline(series) {
  const w = 360, hgt = 60, n = series.length;
  const max = Math.max(1, ...series.map((p) => Math.max(p.accepted, p.confirmed)));
  const bw = w / Math.max(1, n);
  const bars = [];
  series.forEach((p, i) => {
    const ha = (p.accepted / max) * (hgt - 4);
    const hc = (p.confirmed / max) * (hgt - 4);
    bars.push(svg("rect", { x: i * bw, y: hgt - ha, width: Math.max(1, bw / 2 - 0.5), height: ha, class: "bar-in" }));
    bars.push(svg("rect", { x: i * bw + bw / 2, y: hgt - hc, width: Math.max(1, bw / 2 - 0.5), height: hc, class: "bar-out" }));
  });
  return svg("svg", { viewBox: `0 0 ${w} ${hgt}`, class: "spark", role: "img",
    "aria-label": "trades accepted and settlements confirmed per second, last minute" }, ...bars);
}

function throughputSection(o) {
  if (!o.throughput) return null;
  const t = o.throughput, l = o.confirmation_latency;
  return h("section", {},
    h("h2", {}, "Throughput and latency ", h("span", { class: "muted small" }, "(this instance)")),
    h("div", { class: "cards" },
      card(`Trades in (last ${t.window_seconds} s)`, formatRate(t.trades_accepted_per_second), "rate-in",
        formatCount(t.trades_accepted) + " accepted"),
      card(`Confirmations out (last ${t.window_seconds} s)`, formatRate(t.settlements_confirmed_per_second),
        "rate-out", formatCount(t.settlements_confirmed) + " confirmed, " + formatCount(t.settlements_settled) + " settled"),
      card(`Confirmation latency p50 / p99 (last ${l.window_seconds / 60} min)`,
        `${formatMs(l.p50_ms)} / ${formatMs(l.p99_ms)}`, "latency",
        `p90 ${formatMs(l.p90_ms)}, max ${formatMs(l.max_ms)}, ${formatCount(l.count)} confirmations`)),
    h("figure", { class: "chart" }, sparkline(t.series),
      h("figcaption", {}, h("span", { class: "key-in" }, "■"), " accepted  ",
        h("span", { class: "key-out" }, "■"), " confirmed, per second over the last minute")));
}

function healthSection(o, drift) {
  const rows = (o.health || []).map((c) => h("li", { class: "health-" + c.status, dataset: { testid: "health-" + c.name } },
    h("span", { class: "dot" }), h("strong", {}, c.name), " ", c.status,
    c.message ? h("span", { class: "muted" }, " — " + c.message) : null));
  const lag = o.kafka ? o.kafka.consumer_lag : null;
  return h("section", {},
    h("h2", {}, "Pipeline health"),
    h("div", { class: "cards" },
      card("Kafka consumer lag", lag === null || lag === undefined ? "—" : formatCount(lag), "lag",
        lag === null || lag === undefined ? "no partition assigned, or Kafka off" : "messages not consumed yet"),
      card("Relay backlog", o.relay.backlog === null ? "—" : formatCount(o.relay.backlog), "backlog",
        o.relay.role === "off" ? "events waiting for Kafka (no Kafka configured)"
          : `events not yet on Kafka; this instance's relay is ${o.relay.role}`),
      card("Reconciliation drift", drift.text, "drift", drift.extra)),
    h("ul", { class: "health" }, rows));
}

export function render(main) {
  const body = h("div", {});
  const stamp = h("p", { class: "muted small", dataset: { testid: "generated-at" } });
  main.append(h("h1", {}, "Overview"), stamp, body);
  let drift = { text: "…", extra: "" };
  let last = null;
  let stopped = false;

  function draw(res) {
    if (stopped) return;
    clear(body);
    if (!res.ok) {
      body.append(problem(res, "the overview"));
      return;
    }
    const o = res.body;
    stamp.textContent = "Updated " + formatTime(o.generated_at) + " · refreshes every 2 s";
    body.append(countsSection(o));
    if (o.scope !== "all") return;
    const throughput = throughputSection(o);
    if (throughput) body.append(throughput);
    body.append(healthSection(o, drift));
  }

  async function poll() {
    const res = await api.get("/overview");
    last = res;
    draw(res);
  }

  async function pollDrift() {
    const res = await api.get("/reconciliation?limit=1");
    if (res.ok) {
      const open = Object.values(res.body.open_by_kind || {}).reduce((a, b) => a + b, 0);
      drift = { text: formatCount(open), extra: `status ${res.body.status}, last pass ${formatTime(res.body.last_pass_at)}` };
    } else if (res.status === 404) {
      drift = { text: "—", extra: "not available on this service" };
    } else {
      drift = { text: "—", extra: res.error.message || res.error.code };
    }
    if (last) draw(last);
  }

  poll();
  pollDrift();
  const a = setInterval(poll, POLL_MS);
  const b = setInterval(pollDrift, DRIFT_POLL_MS);
  return () => {
    stopped = true;
    clearInterval(a);
    clearInterval(b);
  };
}
