// Sign-in: paste a JWT issued for this service; it is kept in this tab's sessionStorage and sent
// as "Authorization: Bearer" with every call. The service checks it; the claims shown here are
// only read from it. A service without authentication needs no token.
import * as api from "/ui/api.js";
import { h, clear, facts, formatTime } from "/ui/dom.js";

export function render(main) {
  const input = h("textarea", { rows: 5, name: "token", placeholder: "eyJhbGciOi…", "aria-label": "JWT", dataset: { testid: "token" } });
  const msg = h("div", { role: "status" });
  const current = h("div", {});
  function showCurrent() {
    clear(current);
    const c = api.currentClaims();
    if (!c) {
      current.append(h("p", { class: "muted" }, "Not signed in."));
      return;
    }
    current.append(h("h2", {}, "Signed in"), facts([
      ["Subject", c.sub, "who-sub"],
      ["Roles", api.roles().join(", ") || "none", "who-roles"],
      ["Accounts", Array.isArray(c.accounts) ? c.accounts.join(", ") : null],
      ["Issuer", c.iss], ["Expires", c.exp ? formatTime(new Date(c.exp * 1000).toISOString()) : null]]),
    h("button", { type: "button", onclick: () => { api.setToken(""); showCurrent(); window.dispatchEvent(new Event("sc-signin")); } }, "Sign out"));
  }
  const form = h("form", { class: "stack" }, h("label", {}, "Token (JWT)", input),
    h("button", { type: "submit", class: "primary", dataset: { testid: "signin" } }, "Sign in"), msg);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = input.value.trim().replace(/^Bearer\s+/i, "");
    clear(msg);
    if (!value) {
      msg.append(h("p", { class: "notice error" }, "Paste a token first."));
      return;
    }
    let claims;
    try {
      claims = api.decodeClaims(value);
    } catch (e) {
      msg.append(h("p", { class: "notice error", role: "alert" }, e.message));
      return;
    }
    if (claims.exp && claims.exp * 1000 < Date.now()) {
      msg.append(h("p", { class: "notice error", role: "alert" }, `This token expired at ${new Date(claims.exp * 1000).toISOString()}.`));
      return;
    }
    api.setToken(value);
    input.value = "";
    window.dispatchEvent(new Event("sc-signin"));
    showCurrent();
    msg.append(h("p", { class: "ok" }, "Signed in. ", h("a", { href: "#/" }, "Go to the overview")));
  });
  main.append(h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "The dashboard uses the API's roles: operators retry and acknowledge, auditors read " +
      "everything, account holders see their own accounts only. The token stays in this browser tab."),
    form, current);
  showCurrent();
}
