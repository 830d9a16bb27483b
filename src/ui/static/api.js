// Calls to the service's REST API from the dashboard, with the signed-in token (sessionStorage,
// sent as "Authorization: Bearer"; none when signed out, for a service without authentication).
// Every call resolves to {ok, status, body, error}: error is the API's {code, message, field} or a
// description of what went wrong on the way, never an exception.

const TOKEN_KEY = "sc.dashboard.token";

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function base64UrlDecode(part) {
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
  const padded = b64 + "=".repeat((4 - (b64.length % 4)) % 4);
  const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

// The claims of a JWT, for display only (the service verifies the token, not the dashboard).
// Throws an Error naming what is wrong with the text.
export function decodeClaims(jwt) {
  const parts = jwt.trim().split(".");
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p)) || !parts[1])
    throw new Error("not a JWT: expected three base64url parts separated by dots");
  let claims;
  try {
    claims = JSON.parse(base64UrlDecode(parts[1]));
  } catch {
    throw new Error("not a JWT: its payload (the second part) is not base64url-encoded JSON");
  }
  if (typeof claims !== "object" || claims === null || Array.isArray(claims))
    throw new Error("not a JWT: its payload is not a JSON object");
  return claims;
}

// The signed-in user's claims, or null (signed out, or a token that cannot be read).
export function currentClaims() {
  const t = token();
  if (!t) return null;
  try {
    return decodeClaims(t);
  } catch {
    return null;
  }
}

function rolesOf(claims) {
  if (!claims) return [];
  const r = claims.roles;
  if (Array.isArray(r)) return r.map(String);
  if (typeof r === "string") return r.split(" ").filter(Boolean);
  const realm = claims.realm_access && claims.realm_access.roles;
  return Array.isArray(realm) ? realm.map(String) : [];
}

// Whether the user may be offered an action of `role`. Signed out: yes (the service decides; without
// authentication everything is allowed, with it the call is refused and the refusal shown).
export function mayAct(role) {
  const claims = currentClaims();
  return !claims || rolesOf(claims).includes(role);
}

export function roles() {
  return rolesOf(currentClaims());
}

const listeners = new Set();
// Called with every response status (the app shows "sign in" on 401).
export function onStatus(fn) {
  listeners.add(fn);
}

async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  const t = token();
  if (t) headers.Authorization = "Bearer " + t;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (e) {
    return { ok: false, status: 0, body: null, error: { code: "network", message: String(e) } };
  }
  let parsed = null;
  const text = await res.text();
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  listeners.forEach((fn) => fn(res.status));
  if (res.ok) return { ok: true, status: res.status, body: parsed, error: null };
  const error =
    parsed && parsed.error && typeof parsed.error === "object"
      ? parsed.error
      : { code: "http_" + res.status, message: text.slice(0, 200) || res.statusText };
  return { ok: false, status: res.status, body: parsed, error };
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body === undefined ? {} : body);

// A query string from an object, leaving out empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? "?" + s : "";
}
