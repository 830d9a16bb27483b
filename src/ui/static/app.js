// The dashboard's entry point: a hash router (#/, #/attention, #/settlements/<id>, ...) over page
// modules. Each page renders into <main> and may return a function that stops its polling.
import * as api from "/ui/api.js";
import { h, clear } from "/ui/dom.js";
import * as overview from "/ui/overview.js";
import * as settlements from "/ui/settlements.js";
import * as rejections from "/ui/rejections.js";
import * as reconciliation from "/ui/reconciliation.js";
import * as ledger from "/ui/ledger.js";
import * as signin from "/ui/signin.js";

const routes = [
  { re: /^\/?$/, page: "overview", render: overview.render },
  { re: /^\/attention$/, page: "attention", render: settlements.renderAttention },
  { re: /^\/settlements$/, page: "settlements", render: settlements.renderSearch },
  { re: /^\/settlements\/([^/]+)$/, page: "settlements", render: settlements.renderOne },
  { re: /^\/rejections$/, page: "rejections", render: rejections.render },
  { re: /^\/reconciliation$/, page: "reconciliation", render: reconciliation.render },
  { re: /^\/ledger$/, page: "ledger", render: ledger.render },
  { re: /^\/accounts\/([^/]+)$/, page: "ledger", render: ledger.renderAccount },
  { re: /^\/signin$/, page: "signin", render: signin.render },
];

let stop = null;

function showWho() {
  const who = document.getElementById("who");
  const claims = api.currentClaims();
  if (!claims) {
    who.textContent = "Sign in";
    who.title = "No token: works only when the service runs without authentication";
    return;
  }
  const roles = api.roles();
  who.textContent = `${claims.sub || "?"} (${roles.join(", ") || "no roles"})`;
  who.title = "Signed in; click to change or sign out";
}

function route() {
  if (stop) {
    stop();
    stop = null;
  }
  let hash = location.hash.replace(/^#/, "").split("?")[0];
  try {
    hash = decodeURIComponent(hash);
  } catch {
    // a malformed escape: matched as typed (and then not found)
  }
  const main = clear(document.getElementById("main"));
  document.getElementById("banner").hidden = true;
  const found = routes.find((r) => r.re.test(hash));
  document.querySelectorAll("#nav a").forEach((a) => {
    a.classList.toggle("active", !!found && a.dataset.page === found.page);
  });
  showWho();
  if (!found) {
    main.append(h("h1", {}, "Not found"),
      h("p", {}, `No dashboard page "${hash}". `, h("a", { href: "#/" }, "Overview")));
    return;
  }
  const params = hash.match(found.re).slice(1);
  const query = new URLSearchParams(location.hash.split("?")[1] || "");
  stop = found.render(main, params, query) || null;
}

api.onStatus((status) => {
  if (status !== 401) return;
  const banner = document.getElementById("banner");
  clear(banner).append("The service requires a token: ", h("a", { href: "#/signin" }, "sign in"),
    " with a JWT carrying your roles.");
  banner.hidden = false;
});

window.addEventListener("hashchange", route);
window.addEventListener("sc-signin", () => showWho());
route();
