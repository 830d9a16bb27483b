// DOM helpers of the dashboard: elements are built with createElement and text nodes only (never
// from HTML text), so nothing the API returns can become markup.

// h("td", {class: "num", dataset: {testid: "x"}, onclick: fn}, "text", otherNode, [more])
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

const SVG = "http://www.w3.org/2000/svg";
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function formatTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z").replace(/:00Z$/, ":00Z");
}

export function formatCount(n) {
  return typeof n === "number" ? n.toLocaleString("en-US") : "—";
}

export function formatMs(ms) {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1) return (ms * 1000).toFixed(0) + " µs";
  if (ms < 1000) return ms.toFixed(ms < 10 ? 2 : 1) + " ms";
  return (ms / 1000).toFixed(2) + " s";
}

export function formatRate(r) {
  return typeof r === "number" ? r.toFixed(r < 10 ? 2 : 1) + "/s" : "—";
}

export function statusBadge(status) {
  return h("span", { class: "badge status-" + status }, status.replace(/_/g, " "));
}

// A settlement id as a link to its page.
export function settlementLink(id) {
  return h("a", { href: "#/settlements/" + encodeURIComponent(id), class: "mono" }, id);
}

// A notice for a failed call: "not available" for an endpoint this service does not have (404 on a
// whole resource), "not allowed" for 403, "sign in" for 401, otherwise the API's error.
export function problem(result, what) {
  const e = result.error || {};
  let text;
  let cls = "notice error";
  if (result.status === 401) {
    text = `Sign in to see ${what}: ${e.message || e.code}.`;
  } else if (result.status === 403) {
    text = `Your token may not see ${what} (${e.message || "forbidden"}).`;
    cls = "notice warn";
  } else if (result.status === 0) {
    text = `Cannot reach the service for ${what}: ${e.message}.`;
  } else {
    text = `Could not load ${what}: ${e.code || "error"}: ${e.message || ""}`;
  }
  const el = h("p", { class: cls, role: "alert" }, text);
  if (result.status === 401) el.append(" ", h("a", { href: "#/signin" }, "Sign in"));
  return el;
}

export function notAvailable(what) {
  return h("p", { class: "notice muted", dataset: { testid: "not-available" } },
    `${what}: not available on this service.`);
}

// A table: columns = [{title, cell: row => node|text, class}], rows = array.
export function table(columns, rows, empty = "None.", attrs = {}) {
  if (!rows.length) return h("p", { class: "muted empty", dataset: attrs.dataset }, empty);
  return h("table", attrs,
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.class }, c.title)))),
    h("tbody", {}, rows.map((r) => h("tr", { dataset: r.__data || {} },
      columns.map((c) => h("td", { class: c.class }, c.cell(r)))))));
}

// A definition list of [label, value] pairs (values null/"" shown as —).
export function facts(pairs, attrs = {}) {
  return h("dl", Object.assign({ class: "facts" }, attrs), pairs.map(([k, v, testid]) => [
    h("dt", {}, k),
    h("dd", { dataset: testid ? { testid } : undefined },
      v === null || v === undefined || v === "" ? "—" : v),
  ]));
}

// JSON values (event details, evidence) as a compact list of key: value lines.
export function jsonFacts(obj) {
  if (obj === null || typeof obj !== "object") return h("span", { class: "mono" }, JSON.stringify(obj));
  const entries = Object.entries(obj);
  if (!entries.length) return h("span", { class: "muted" }, "—");
  return h("ul", { class: "kv" }, entries.map(([k, v]) =>
    h("li", {}, h("span", { class: "k" }, k), " ",
      h("span", { class: "mono" }, typeof v === "string" ? v : JSON.stringify(v)))));
}
