/* The shell's one door to the API: the bearer token, JSON requests, problem details.
 *
 * Shared by every gridmap page (the workbench; the grid worker's app and the planner's
 * studio to come). A refusal is thrown as a Problem carrying the RFC 9457 body, so a page
 * shows the server's own words. <body data-wb-busy> counts requests in flight (tests wait
 * for 0). A 401 signs out: the token is dropped and "gridmap:signed-out" is dispatched.
 *
 * The token lives in sessionStorage (a tab's life) unless a page asks otherwise with
 * ``keepTokenIn("local")`` — the grid worker's app, which must open after the phone restarts
 * offline. The workbench never asks, so it keeps the session-only token.
 */
export const API = "/api/v1";
export const TOKEN_KEY = "gridmap.token";

let busy = 0;
function setBusy(d) {
  busy += d;
  document.body.setAttribute("data-wb-busy", String(busy));
}

export class Problem extends Error {
  constructor(status, body) {
    const words = body && (body.detail || body.title);
    super(typeof words === "string" ? words : JSON.stringify(words || status));
    this.status = status;
    this.body = body || {};
  }
}

let store = "session";

/** Keep the token in ``"local"`` storage (survives a restart) or ``"session"`` (the default). */
export function keepTokenIn(kind) {
  store = kind === "local" ? "local" : "session";
}

function storage() {
  return store === "local" ? window.localStorage : window.sessionStorage;
}

export function token() {
  try { return storage().getItem(TOKEN_KEY); } catch (e) { return null; }
}

/** Store ``value`` as the token where this page keeps it (null: forget it). */
export function setToken(value) {
  try {
    if (value) storage().setItem(TOKEN_KEY, value);
    else storage().removeItem(TOKEN_KEY);
  } catch (e) { /* private mode */ }
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === null || v === undefined || v === "" || v === false) continue;
    if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
    else q.append(k, v);
  }
  const text = q.toString();
  return text ? "?" + text : "";
}

export function authHeaders(extra) {
  return Object.assign({ Authorization: "Bearer " + token() }, extra || {});
}

/** JSON from ``path`` (under /api/v1); throws a Problem with the server's words. */
export async function request(path, { method = "GET", params, body } = {}) {
  const headers = authHeaders(body === undefined ? {} : { "Content-Type": "application/json" });
  setBusy(1);
  try {
    const r = await fetch(API + path + query(params), {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (r.status === 401) document.dispatchEvent(new CustomEvent("gridmap:signed-out"));
    const type = r.headers.get("content-type") || "";
    const data = type.includes("json") ? await r.json() : null;
    if (!r.ok) throw new Problem(r.status, data);
    return data;
  } finally {
    setBusy(-1);
  }
}

export const get = (path, params) => request(path, { params });
export const post = (path, body) => request(path, { method: "POST", body });
export const put = (path, body) => request(path, { method: "PUT", body });
