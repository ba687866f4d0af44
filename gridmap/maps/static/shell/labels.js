/* The shell's one label catalogue and language: no raw code reaches the page text.
 *
 * The words come from the server's one catalogue: ``GET /api/v1/labels?lang=`` when the
 * server has it, otherwise the labels the page was rendered with (gridmap/maps/i18n.py)
 * plus category names from ``/categories``. The language is zh (default) or en, chosen
 * with a switch, remembered in localStorage and, where the server keeps it, as the user's
 * preference (``PUT /api/v1/me/preferences``).
 */
import { get, put } from "./api.js";

const LANG_KEY = "gridmap.lang";
let words = { ui: {}, status: {}, action: {}, channel: {}, category: {}, flag: {}, event: {}, outcome: {} };
let current = "zh";

export function lang() { return current; }

/** Load the catalogue for ``pageLang`` (the language the page was rendered in). */
export async function load(pageLang, pageLabels) {
  current = pageLang === "en" ? "en" : "zh";
  const l = pageLabels || {};
  words = {
    ui: Object.assign({}, l), status: l.statuses || {}, action: l.action_names || {},
    channel: l.channels || {}, category: {}, flag: l.flag_names || {}, event: l.event_names || {}, outcome: l.outcome_names || {},
  };
  try {
    const served = await get("/labels", { lang: current });
    for (const k of Object.keys(served)) words[k] = Object.assign({}, words[k] || {}, served[k]);
  } catch (e) {
    try {
      const groups = await get("/categories");
      for (const g of groups) for (const c of g.categories) words.category[c.code] = current === "en" ? c.name_en : c.name;
    } catch (e2) { /* signed out: the sign-in form shows */ }
  }
}

/** The page's own word for ``key``. */
export function t(key) {
  const w = words.ui[key];
  return typeof w === "string" ? w : key;
}

/** The word for a code of a kind (status, action, channel, category, outcome, event). */
export function word(kind, code) {
  if (code === null || code === undefined || code === "") return "";
  const w = (words[kind] || {})[code];
  return w === undefined ? String(code) : w;
}

/** The language remembered for this browser (or null). */
export function remembered() {
  try { return window.localStorage.getItem(LANG_KEY); } catch (e) { return null; }
}

/** Switch to ``to``: remember it, tell the server, and reload the page in it. */
export async function switchTo(to) {
  try { window.localStorage.setItem(LANG_KEY, to); } catch (e) { /* private mode */ }
  try { await put("/me/preferences", { lang: to }); } catch (e) { /* not on this server yet */ }
  const url = new URL(window.location.href);
  url.searchParams.set("lang", to);
  window.location.assign(url.toString());
}

/** If the remembered language differs from the page's and the URL did not ask, reload in it. */
export function followRemembered(pageLang) {
  const want = remembered();
  const asked = new URLSearchParams(window.location.search).get("lang");
  if (want && !asked && want !== (pageLang === "en" ? "en" : "zh")) {
    const url = new URL(window.location.href);
    url.searchParams.set("lang", want);
    window.location.replace(url.toString());
    return true;
  }
  return false;
}

/** With nothing remembered here, follow the user's preference kept by the server. */
export async function followPreference(pageLang) {
  let lang = null;
  try { lang = (await get("/me/preferences")).lang; } catch (e) { return false; }
  const asked = new URLSearchParams(window.location.search).get("lang");
  try { window.localStorage.setItem(LANG_KEY, asked || lang); } catch (e) { /* private mode */ }
  if (asked || !lang || lang === (pageLang === "en" ? "en" : "zh")) return false;
  const url = new URL(window.location.href);
  url.searchParams.set("lang", lang);
  window.location.replace(url.toString());
  return true;
}
