/* The dispatcher's workbench: the work queue beside the map, one selection, the incident
 * panel with the actions this user may take, bulk actions, live updates, two languages.
 *
 * Built on the shell (static/shell: api.js, labels.js, live.js) and on the map page
 * (gridmap-map.js, window.gridmapApp): the filters are the map's one set (app.state), so
 * table, counts and map always show the same incidents. The page offers only what the API
 * allows: the actions come from each incident's ``allowed_actions``; whether one needs a
 * note comes from the workflow table (cfg.workflow, read from gridmap/incidents/workflow.py).
 */
import * as api from "../shell/api.js";
import * as labels from "../shell/labels.js";
import { subscribe } from "../shell/live.js";

const { t, word } = labels;
const app = window.gridmapApp;
const cfg = app.cfg;

// column → the API's sort name (null: not sortable)
const COLUMNS = [
  ["code", "code"], ["title", null], ["status", "status"], ["category", null], ["unit", "unit"],
  ["place", "place"], ["reported_at", "reported_at"], ["deadline", "deadline"], ["time_left", "time_left"],
];
// flags of the filter bar: name in the page → [query parameter, value]
const FLAGS = {
  mine: ["queue", "mine"], due_soon: ["due_within_days", "2"], fast_track: ["fast_track", "true"],
  supervised: ["supervised", "true"], joint: ["joint", "true"], whistle: ["whistle", "true"],
};
// the fields each action's form needs besides the note (the rule's parameters in ActionIn)
const FORMS = {
  dispatch: ["unit"], transfer: ["unit!"], joint: ["unit", "co_units"], resolve: ["outcome"],
  follow_up: ["satisfaction"], merge: ["merged_into"], supervise: ["deadline"], whistle: ["summoned"],
};
const BULK = ["dispatch", "transfer", "supervise", "close", "merge", "self_handle", "reject", "follow_up"];
const MAX_BULK = 500;

const S = {
  page: 1, pageSize: 50, sort: "-reported_at", total: 0, rows: [], selected: new Set(),
  allMatching: false, open: null, incident: null, units: [], unitNames: {}, areaNames: {}, live: false,
  saved: [],
};

const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const $ = (sel, root = document) => root.querySelector(sel);

function when(iso) {
  if (!iso) return "";
  const d = new Date(new Date(iso).getTime() + (8 * 60 + new Date().getTimezoneOffset()) * 60000);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

// the place by name: the incident's own area path, else the named area of my scope holding it
function placeName(i) {
  if (i.areas && i.areas.length) return i.areas[i.areas.length - 1].name;
  let best = "";
  for (const [code, name] of Object.entries(S.areaNames)) {
    if (i.grid_code && i.grid_code.startsWith(code) && code.length > best.length) best = code;
  }
  return best ? S.areaNames[best] : "";
}
// office hours left on the working-day calendar (9 a day): days past one day, else hours
const OFFICE_DAY_HOURS = 9;
function timeLeft(hours) {
  if (hours === null || hours === undefined) return "";
  const days = hours / OFFICE_DAY_HOURS;
  return Math.abs(days) >= 1 ? `${days.toFixed(1)} ${t("working_days")}` : `${hours.toFixed(1)} ${t("office_hours")}`;
}
const unitName = (code, name) => name || S.unitNames[code] || (code ? t("unit") : "");

// -- layout ---------------------------------------------------------------------------------------

function build() {
  document.body.classList.add("wb-on");
  const box = document.createElement("section");
  box.id = "wb";
  box.innerHTML = `
    <div class="wb-bar">
      <h2>${esc(t("queue"))}</h2>
      <input type="search" name="q" placeholder="${esc(t("search"))}" maxlength="100">
      <input type="search" name="phone_suffix" placeholder="${esc(t("phone_suffix"))}" maxlength="4" inputmode="numeric">
      <span class="wb-flags">${Object.keys(FLAGS).map((k) =>
        `<label><input type="checkbox" data-flag="${k}"> ${esc(k === "mine" ? t("my_queue") : word("flag", k))}</label>`).join("")}</span>
      <span class="wb-right">
        <span id="wb-live" class="wb-live" title="${esc(t("live"))}">●</span>
        <button type="button" id="wb-bell" class="wb-bell">${esc(t("reminders"))} <b id="wb-unread">0</b></button>
        <button type="button" id="wb-lang">${esc(t("other_language"))}</button>
      </span>
    </div>
    <div class="wb-saved">
      <select id="wb-saved" aria-label="${esc(t("saved_filters"))}"><option value="">${esc(t("saved_filters"))}</option></select>
      <button type="button" id="wb-saved-delete" class="gm-link" hidden>${esc(t("delete"))}</button>
      <input id="wb-save-name" placeholder="${esc(t("filter_name"))}" maxlength="60" size="12">
      <label><input type="checkbox" id="wb-save-shared"> ${esc(t("shared"))}</label>
      <label><input type="checkbox" id="wb-save-default"> ${esc(t("default_filter"))}</label>
      <button type="button" id="wb-save">${esc(t("save_filter"))}</button>
      <span class="gm-error" id="wb-save-problem"></span>
    </div>
    <div class="wb-bulk" id="wb-bulk">
      <span id="wb-selected"></span>
      <button type="button" id="wb-all">${esc(t("select_all_matching"))}</button>
      <button type="button" id="wb-box" title="${esc(t("box_select_hint"))}">${esc(t("box_select"))}</button>
      <select id="wb-bulk-action"></select>
      <select id="wb-bulk-unit"><option value="">${esc(t("unit"))}</option></select>
      <input id="wb-bulk-note" placeholder="${esc(t("note"))}" maxlength="2000">
      <button type="button" id="wb-bulk-run">${esc(t("bulk_run"))}</button>
    </div>
    <div class="wb-table-box"><table class="wb-table"><thead></thead><tbody></tbody></table></div>
    <div class="wb-pager"><span id="wb-count"></span>
      <button type="button" id="wb-prev">${esc(t("previous"))}</button>
      <span id="wb-page"></span>
      <button type="button" id="wb-next">${esc(t("next"))}</button></div>
    <div id="wb-report" class="wb-report" hidden></div>`;
  document.body.appendChild(box);
  const panel = document.createElement("aside");
  panel.id = "wb-incident";
  panel.hidden = true;
  document.body.appendChild(panel);
  const drawer = document.createElement("aside");
  drawer.id = "wb-reminders";
  drawer.hidden = true;
  document.body.appendChild(drawer);
  for (const el of [box, panel, drawer]) { L.DomEvent.disableClickPropagation(el); L.DomEvent.disableScrollPropagation(el); }

  const f = app.state.filters;
  for (const name of ["q", "phone_suffix"]) {
    const input = $(`#wb input[name=${name}]`);
    input.value = f[name] || "";
    let timer = null;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => app.setFilter(name, input.value.trim()), 300);
    });
  }
  for (const cb of box.querySelectorAll("[data-flag]")) {
    const [param, value] = FLAGS[cb.dataset.flag];
    cb.checked = f[param] === value;
    cb.addEventListener("change", () => app.setFilter(param, cb.checked ? value : ""));
  }
  $("#wb-prev").onclick = () => { if (S.page > 1) { S.page -= 1; loadTable(); } };
  $("#wb-next").onclick = () => { if (S.page * S.pageSize < S.total) { S.page += 1; loadTable(); } };
  $("#wb-lang").onclick = () => labels.switchTo(labels.lang() === "en" ? "zh" : "en");
  $("#wb-bell").onclick = toggleReminders;
  $("#wb-all").onclick = () => { S.allMatching = !S.allMatching; renderTable(); };
  $("#wb-bulk-run").onclick = runBulk;
  $("#wb-box").onclick = toggleBox;
  $("#wb-save").onclick = saveFilter;
  $("#wb-saved").onchange = () => {
    const chosen = S.saved.find((f) => String(f.id) === $("#wb-saved").value);
    $("#wb-saved-delete").hidden = !chosen || chosen.owner !== (app.me || {}).username;
    if (chosen) applyQuery(chosen.query);
  };
  $("#wb-saved-delete").onclick = async () => {
    try { await api.request("/me/filters/" + $("#wb-saved").value, { method: "DELETE" }); } catch (e) { app.toast(e.message); }
    loadSaved();
  };
  renderHead();
}

function renderHead() {
  const [key, desc] = S.sort.startsWith("-") ? [S.sort.slice(1), true] : [S.sort, false];
  $("#wb thead").innerHTML = `<tr><th><input type="checkbox" id="wb-page-all" aria-label="${esc(t("selected"))}"></th>${
    COLUMNS.map(([col, sort]) => `<th${sort ? ` data-sort="${sort}" class="wb-sortable"` : ""}>${esc(t(col))}${
      sort === key ? (desc ? " ▼" : " ▲") : ""}</th>`).join("")}</tr>`;
  for (const th of document.querySelectorAll("#wb th[data-sort]")) {
    th.onclick = () => {
      const s = th.dataset.sort;
      S.sort = S.sort === "-" + s ? s : "-" + s;
      S.page = 1;
      renderHead();
      loadTable();
    };
  }
  $("#wb-page-all").onchange = (ev) => {
    for (const i of S.rows) { if (ev.target.checked) S.selected.add(i.code); else S.selected.delete(i.code); }
    renderTable();
  };
}

// -- the queue ------------------------------------------------------------------------------------

function filterParams() {
  const p = app.params();
  delete p.lang;
  delete p.display_crs;
  return p;
}

let tableSeq = 0;
async function loadTable() {
  const seq = ++tableSeq;
  try {
    const page = await api.get("/incidents", Object.assign(filterParams(), { sort: S.sort, page: S.page, page_size: S.pageSize }));
    if (seq !== tableSeq) return;
    S.total = page.total;
    S.rows = page.items;
    renderTable();
  } catch (e) {
    if (seq === tableSeq) app.toast(e.message);
  }
}

function renderTable() {
  const body = $("#wb tbody");
  body.innerHTML = S.rows.map((i) => `
    <tr data-code="${esc(i.code)}" class="${i.code === S.open ? "wb-current" : ""}${i.overdue ? " wb-overdue" : ""}">
      <td><input type="checkbox" data-pick="${esc(i.code)}"${S.selected.has(i.code) || S.allMatching ? " checked" : ""}${S.allMatching ? " disabled" : ""}></td>
      <td class="wb-code">${esc(i.code)}</td><td>${esc(i.title)}</td>
      <td><span class="wb-status wb-s-${esc(i.status)}">${esc(word("status", i.status))}</span></td>
      <td>${esc(word("category", i.category))}</td><td>${esc(unitName(i.unit_code, i.unit_name))}</td>
      <td>${esc(placeName(i))}</td><td>${esc(when(i.reported_at))}</td>
      <td class="${i.overdue ? "gm-state-overdue" : ""}">${esc(when(i.resolve_due_at))}</td>
      <td class="wb-left${i.overdue ? " gm-state-overdue" : ""}">${esc(timeLeft(i.time_left_hours))}</td>
    </tr>`).join("") || `<tr><td colspan="${COLUMNS.length + 1}">${esc(t("no_data"))}</td></tr>`;
  for (const tr of body.querySelectorAll("tr[data-code]")) {
    tr.addEventListener("click", (ev) => {
      if (ev.target.matches("input")) return;
      select(tr.dataset.code, { moveMap: true });
    });
  }
  for (const cb of body.querySelectorAll("[data-pick]")) {
    cb.onchange = () => { if (cb.checked) S.selected.add(cb.dataset.pick); else S.selected.delete(cb.dataset.pick); renderBulk(); };
  }
  const pages = Math.max(1, Math.ceil(S.total / S.pageSize));
  $("#wb-count").textContent = `${t("of")} ${S.total} ${t("rows")}`;
  $("#wb-count").dataset.total = String(S.total);
  $("#wb-page").textContent = `${S.page} / ${pages}`;
  renderBulk();
}

// -- one selection: table ↔ map -------------------------------------------------------------------

let ring = null;
function highlight(i, moveMap) {
  if (ring) ring.remove();
  ring = L.circleMarker([i.lat, i.lon], { radius: 13, color: "#f59e0b", weight: 4, fill: false, interactive: false, className: "wb-ring" });
  ring.addTo(app.map);
  if (!document.body.classList.contains("wb-open")) {
    document.body.classList.add("wb-open");
    app.map.invalidateSize();
  }
  if (moveMap) app.map.setView([i.lat, i.lon], Math.max(app.map.getZoom(), 16));
}

async function select(code, { moveMap = false } = {}) {
  S.open = code;
  for (const tr of document.querySelectorAll("#wb tbody tr")) tr.classList.toggle("wb-current", tr.dataset.code === code);
  const row = $(`#wb tr[data-code="${CSS.escape(code)}"]`);
  if (row && !moveMap) row.scrollIntoView({ block: "nearest" });
  try {
    const i = await api.get("/incidents/" + encodeURIComponent(code));
    if (S.open !== code) return;
    S.incident = i;
    highlight(i, moveMap);
    renderIncident(i);
    loadPhotos(i.code);
  } catch (e) {
    app.toast(e.message);
  }
}

// -- the incident panel ---------------------------------------------------------------------------

function field(label, value) {
  return value === "" || value === null || value === undefined ? "" : `<dt>${esc(label)}</dt><dd>${esc(value)}</dd>`;
}

function renderIncident(i) {
  const panel = $("#wb-incident");
  panel.hidden = false;
  panel.dataset.code = i.code;
  panel.dataset.status = i.status;
  const flags = [i.overdue && "overdue", i.supervised && "supervised", i.fast_track && "fast_track",
    i.joint_units && i.joint_units.length && "joint", i.whistles && i.whistles.length && "whistle"]
    .filter(Boolean).map((f) => word("flag", f));
  const history = (i.history || []).map((e) => `<li data-event="${esc(e.action)}"><time>${esc(when(e.at))}</time>
      ${e.actor ? esc(e.actor) + " " : ""}<b>${esc(word("event", e.action))}</b>${e.unit_code ? " " + esc(unitName(e.unit_code)) : ""}
      → ${esc(word("status", e.to_status))}${e.note ? `<br><small>${esc(e.note)}</small>` : ""}</li>`).join("");
  const joint = (i.joint_units || []).map((u) => `<li>${esc(unitName(u.unit_code))} (${esc(t(u.role))})${
      u.done_at ? " · " + esc(t("action_done")) : ""}${u.part_note ? ` <small>${esc(u.part_note)}</small>` : ""}</li>`).join("");
  const whistles = (i.whistles || []).map((w) => `<li>${esc(unitName(w.unit_code))} · ${
      esc(w.checked_in_at ? t("checked_in") + " " + when(w.checked_in_at) : t("not_checked_in"))}</li>`).join("");
  const dups = (i.possible_duplicates || []).map((c) => `<a href="#" data-open="${esc(c)}">${esc(c)}</a>`).join(" ");
  panel.innerHTML = `
    <header><h2>${esc(i.code)}</h2><button type="button" class="gm-link" id="wb-close">${esc(t("close"))}</button></header>
    <p class="wb-title"><b>${esc(i.title)}</b></p>
    <p><span class="wb-status wb-s-${esc(i.status)}">${esc(word("status", i.status))}</span> ${flags.map((x) => `<span class="wb-flag">${esc(x)}</span>`).join(" ")}</p>
    <dl class="wb-fields">
      ${field(t("description"), i.description)}
      ${field(t("category"), word("category", i.category))}
      ${field(t("channel"), word("channel", i.channel))}
      ${field(t("area_path"), (i.areas || []).map((a) => a.name).join(" / ") || placeName(i))}
      ${field(t("unit"), unitName(i.unit_code, i.unit_name))}
      ${field(t("reporter"), i.reporter_name)}
      ${field(t("phone"), i.reporter_phone)}
      ${field(t("people"), i.people_involved)}
      ${field(t("reported_at"), when(i.reported_at))}
      ${field(t("deadline"), when(i.resolve_due_at))}
      ${i.supervised ? field(t("supervision"), [unitName(i.supervised_by), when(i.supervision_due_at)].filter(Boolean).join(" · ")) : ""}
      ${i.supervision_answered_at ? field(t("supervision_answer"), when(i.supervision_answered_at)) : ""}
    </dl>
    ${joint ? `<h3>${esc(t("joint_parts"))}</h3><ul>${joint}</ul>` : ""}
    ${whistles ? `<h3>${esc(t("whistles"))}</h3><ul>${whistles}</ul>` : ""}
    ${dups ? `<p>${esc(t("possible_duplicates"))}: ${dups}</p>` : ""}
    <div id="wb-photos" class="wb-photos"></div>
    <h3>${esc(t("actions"))}</h3>
    <div class="wb-actions">${(i.allowed_actions || []).map((a) =>
      `<button type="button" data-action="${esc(a)}">${esc(word("action", a))}</button>`).join("") || `<p>${esc(t("no_actions"))}</p>`}</div>
    <form id="wb-form" hidden></form>
    <h3>${esc(t("history"))}</h3><ol class="wb-history">${history}</ol>`;
  $("#wb-close").onclick = closeIncident;
  for (const b of panel.querySelectorAll("[data-action]")) b.onclick = () => openForm(b.dataset.action);
  for (const a of panel.querySelectorAll("[data-open]")) a.onclick = (ev) => { ev.preventDefault(); select(a.dataset.open, { moveMap: true }); };
}

function closeIncident() {
  S.open = null;
  S.incident = null;
  $("#wb-incident").hidden = true;
  document.body.classList.remove("wb-open");
  app.map.invalidateSize();
  if (ring) { ring.remove(); ring = null; }
  for (const tr of document.querySelectorAll("#wb tr.wb-current")) tr.classList.remove("wb-current");
}

async function loadPhotos(code) {
  const box = $("#wb-photos");
  let photos = [];
  try { photos = await api.get("/incidents/" + encodeURIComponent(code) + "/photos"); } catch (e) { return; }
  if (!box || S.open !== code || !photos.length) return;
  // images need the bearer token too: read them with fetch and show them as blobs
  box.innerHTML = `<h3>${esc(t("photos"))}</h3>` + photos.map((p, n) => `<img data-n="${n}" alt="${esc(t("photos"))} ${n + 1}">`).join("");
  photos.forEach(async (p, n) => {
    const r = await fetch(p.thumb_url || p.url, { headers: api.authHeaders() });
    if (!r.ok) return;
    const img = box.querySelector(`img[data-n="${n}"]`);
    img.src = URL.createObjectURL(await r.blob());
    img.title = p.gps ? p.gps.map((v) => v.toFixed(5)).join(", ") : "";
    img.onclick = async () => {
      const full = await fetch(p.url, { headers: api.authHeaders() });
      if (full.ok) window.open(URL.createObjectURL(await full.blob()), "_blank");
      if (p.gps) highlight({ lon: p.gps[0], lat: p.gps[1] }, true);
    };
  });
}

// the bulk bar's picker: every unit in the user's scope (the bulk report says per item what was refused)
function unitOptions(units = S.units) {
  return units.map((u) => `<option value="${esc(u.value)}">${esc(u.label || u.value)}</option>`).join("");
}

// the open incident's picker: the units the API would accept for this action (one rule with the check)
async function unitChoices(code, action) {
  const units = await api.get("/incidents/" + encodeURIComponent(code) + "/units", { action });
  for (const u of units) S.unitNames[u.code] = u.name;
  return units.map((u) => ({ value: u.code, label: u.name }));
}

const PICKS = new Set(["unit", "co_units", "summoned"]);

function formFields(action, i, choices) {
  const parts = [];
  for (const spec of FORMS[action] || []) {
    const required = spec.endsWith("!");
    const name = spec.replace("!", "");
    if (name === "unit") {
      parts.push(`<label>${esc(t("unit"))} <select name="unit_code"${required ? " required" : ""}>
        <option value="">${esc(required ? "" : unitName(i.unit_code, i.unit_name))}</option>${unitOptions(choices)}</select></label>`);
    } else if (name === "co_units" || name === "summoned") {
      parts.push(`<label>${esc(t(name))} <select name="${name === "co_units" ? "co_unit_codes" : "summoned"}" multiple size="4" required>${unitOptions(choices)}</select></label>`);
    } else if (name === "outcome") {
      parts.push(`<label>${esc(t("outcome"))} <select name="outcome"><option value=""></option>${
        Object.keys(cfg.labels.outcome_names).map((o) => `<option value="${o}">${esc(word("outcome", o))}</option>`).join("")}</select></label>`);
    } else if (name === "satisfaction") {
      parts.push(`<label>${esc(t("satisfaction"))} <input name="satisfaction" type="number" min="1" max="5" required></label>`);
    } else if (name === "merged_into") {
      parts.push(`<label>${esc(t("merge_target"))} <input name="merged_into" list="wb-dups" required maxlength="30">
        <datalist id="wb-dups">${(i.possible_duplicates || []).map((c) => `<option value="${esc(c)}">`).join("")}</datalist></label>`);
    } else if (name === "deadline") {
      parts.push(`<label>${esc(t("new_deadline"))} <input name="deadline" type="datetime-local"></label>`);
    }
  }
  const rule = (cfg.workflow || {})[action] || {};
  parts.push(`<label>${esc(t("note"))} <textarea name="note" rows="2" maxlength="2000"${rule.needs_note ? " required" : ""}></textarea></label>`);
  return parts.join("");
}

function formBody(form, action, version) {
  const body = { version };
  const data = new FormData(form);
  for (const key of ["note", "unit_code", "outcome", "merged_into"]) if (data.get(key)) body[key] = data.get(key);
  if (data.get("satisfaction")) body.satisfaction = +data.get("satisfaction");
  if (data.get("deadline")) body.deadline = data.get("deadline") + ":00+08:00";
  for (const key of ["co_unit_codes", "summoned"]) if (data.getAll(key).length) body[key] = data.getAll(key);
  return body;
}

async function openForm(action) {
  const i = S.incident, form = $("#wb-form");
  form.dataset.action = action;
  let choices = [], failed = "";
  if ((FORMS[action] || []).some((spec) => PICKS.has(spec.replace("!", "")))) {
    try { choices = await unitChoices(i.code, action); } catch (e) { failed = e.message; }
    if (S.incident !== i || form.dataset.action !== action) return;  // another form or incident since
  }
  form.hidden = false;
  form.innerHTML = `<h4>${esc(word("action", action))}</h4>${formFields(action, i, choices)}
    <p class="gm-error wb-problem"${failed ? "" : " hidden"}>${esc(failed)}</p>
    <button type="submit">${esc(t("submit"))}</button> <button type="button" id="wb-cancel">${esc(t("cancel"))}</button>`;
  $("#wb-cancel").onclick = () => { form.hidden = true; form.innerHTML = ""; };
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    const problem = form.querySelector(".wb-problem");
    try {
      const done = await api.post(`/incidents/${encodeURIComponent(i.code)}/actions/${action}`, formBody(form, action, i.version));
      S.incident = done;
      renderIncident(done);
      refreshAll();
    } catch (e) {
      problem.hidden = false;
      problem.textContent = e.message;
    }
  };
}

// -- a box drawn on the map selects the incident points inside it ---------------------------------

let boxOn = false;
function toggleBox() {
  boxOn = !boxOn;
  $("#wb-box").classList.toggle("wb-pressed", boxOn);
  const map = app.map;
  if (boxOn) map.dragging.disable(); else map.dragging.enable();
  map.getContainer().style.cursor = boxOn ? "crosshair" : "";
}

function boxSelect() {
  const map = app.map;
  let start = null, rect = null;
  map.on("mousedown", (ev) => {
    if (!boxOn) return;
    start = ev.latlng;
    rect = L.rectangle([start, start], { color: "#f59e0b", weight: 2, interactive: false }).addTo(map);
  });
  map.on("mousemove", (ev) => { if (start && rect) rect.setBounds([start, ev.latlng]); });
  map.on("mouseup", (ev) => {
    if (!start) return;
    const bounds = L.latLngBounds(start, ev.latlng);
    start = null;
    rect.remove();
    const fc = app.lastData.incidents;
    // only drawn points can be picked (at coarser zooms the map shows counts, not incidents)
    if (fc && fc.level === "points") {
      for (const f of fc.features) {
        const [lon, lat] = f.geometry.coordinates;
        if (bounds.contains([lat, lon])) S.selected.add(f.properties.code);
      }
    }
    S.allMatching = false;
    toggleBox();
    renderTable();
  });
}

// -- saved filters (a query string of GET /incidents, checked by the server) ---------------------

/** The current filters as the query string of GET /incidents. */
function currentQuery() {
  const p = filterParams();
  delete p.bbox;
  return api.query(p).replace(/^\?/, "");
}

/** Open the page on ``query``'s filters, keeping the map's view, layers and language. */
function applyQuery(query, replace = false) {
  const now = new URLSearchParams(window.location.search);
  const next = new URLSearchParams(query);
  for (const k of ["since", "until"]) if (next.get(k)) next.set(k, next.get(k).slice(0, 10));
  for (const k of ["lat", "lon", "z", "layers", "lang"]) if (now.get(k)) next.set(k, now.get(k));
  const url = window.location.pathname + "?" + next.toString();
  if (replace) window.location.replace(url); else window.location.assign(url);
}

async function loadSaved(first = false) {
  try { S.saved = await api.get("/me/filters"); } catch (e) { S.saved = []; return; }
  const mine = (app.me || {}).username;
  $("#wb-saved").innerHTML = `<option value="">${esc(t("saved_filters"))}</option>` + S.saved.map((f) =>
    `<option value="${f.id}">${esc(f.name)}${f.default ? " ★" : ""}${f.owner !== mine ? ` (${esc(f.owner)})` : ""}</option>`).join("");
  const current = S.saved.find((f) => f.query === currentQuery());
  if (current) $("#wb-saved").value = String(current.id);
  // the default filter opens with the page when the URL asks for no filter of its own
  const asked = [...new URLSearchParams(window.location.search).keys()].some((k) => !["lat", "lon", "z", "layers", "lang", "refresh"].includes(k));
  const preferred = S.saved.find((f) => f.default && f.owner === mine);
  if (first && !asked && preferred && preferred.query) applyQuery(preferred.query, true);
}

async function saveFilter() {
  const problem = $("#wb-save-problem");
  problem.textContent = "";
  try {
    await api.post("/me/filters", {
      name: $("#wb-save-name").value.trim(), query: currentQuery(),
      shared: $("#wb-save-shared").checked, default: $("#wb-save-default").checked,
    });
    $("#wb-save-name").value = "";
    loadSaved();
  } catch (e) {
    problem.textContent = e.message;
  }
}

// -- bulk -----------------------------------------------------------------------------------------

function renderBulk() {
  const n = S.allMatching ? S.total : S.selected.size;
  // "select all that match" is always there; the action and its fields once something is chosen
  for (const id of ["#wb-bulk-action", "#wb-bulk-unit", "#wb-bulk-note", "#wb-bulk-run"]) $(id).hidden = n === 0;
  $("#wb-selected").textContent = `${t("selected")} ${n}`;
  $("#wb-selected").dataset.n = String(n);
  $("#wb-all").classList.toggle("wb-pressed", S.allMatching);
  // offer an action when at least one selected row may take it (each item is checked again)
  const rows = S.allMatching ? S.rows : S.rows.filter((r) => S.selected.has(r.code));
  const allowed = new Set(rows.flatMap((r) => r.allowed_actions || []));
  // chosen on the map beyond this page: their actions are not known here, the server says
  if (!S.allMatching && rows.length < S.selected.size) BULK.forEach((a) => allowed.add(a));
  const select = $("#wb-bulk-action");
  const keep = select.value;
  select.innerHTML = BULK.filter((a) => allowed.has(a)).map((a) => `<option value="${a}">${esc(word("action", a))}</option>`).join("");
  if (keep) select.value = keep;
  const unit = $("#wb-bulk-unit");
  if (unit.options.length <= 1) unit.insertAdjacentHTML("beforeend", unitOptions());
}

async function runBulk() {
  const action = $("#wb-bulk-action").value;
  if (!action) return;
  const params = {};
  if ($("#wb-bulk-note").value.trim()) params.note = $("#wb-bulk-note").value.trim();
  if ($("#wb-bulk-unit").value) params.unit_code = $("#wb-bulk-unit").value;
  const body = { action, params, codes: null, filter: null };
  if (S.allMatching) {
    const f = filterParams();
    delete f.bbox;
    body.filter = f;
  } else {
    body.codes = [...S.selected].slice(0, MAX_BULK);
  }
  const box = $("#wb-report");
  try {
    const r = await api.post("/incidents/bulk", body);
    box.hidden = false;
    box.innerHTML = `<h3>${esc(t("bulk_result"))}: ${esc(word("action", action))} · ${esc(t("done"))} <b data-done>${r.done}</b> · ${
      esc(t("refused"))} <b data-refused>${r.refused}</b> <button type="button" class="gm-link" id="wb-report-close">${esc(t("close"))}</button></h3>
      <table class="wb-table"><tbody>${r.results.map((x) => `<tr data-code="${esc(x.code)}" data-outcome="${esc(x.outcome)}">
        <td>${esc(x.code)}</td><td>${esc(t(x.outcome))}</td><td>${esc(word("status", x.status))}</td><td>${esc(x.detail || "")}</td></tr>`).join("")}</tbody></table>`;
    $("#wb-report-close").onclick = () => { box.hidden = true; };
    S.selected.clear();
    S.allMatching = false;
    refreshAll();
  } catch (e) {
    box.hidden = false;
    box.innerHTML = `<p class="gm-error">${esc(e.message)}</p>`;
  }
}

// -- reminders ------------------------------------------------------------------------------------

async function loadReminders() {
  try {
    const inbox = await api.get("/notifications", { limit: 20 });
    $("#wb-unread").textContent = String(inbox.unread);
    $("#wb-bell").classList.toggle("wb-has-unread", inbox.unread > 0);
    const drawer = $("#wb-reminders");
    drawer.innerHTML = `<header><h2>${esc(t("reminders"))}</h2>
      <button type="button" id="wb-read">${esc(t("mark_read"))}</button>
      <button type="button" class="gm-link" id="wb-rem-close">${esc(t("close"))}</button></header>
      <ul>${inbox.items.map((n) => `<li class="${n.read ? "" : "wb-unread"}"><a href="#" data-open="${esc(n.incident_code)}">${
        esc(labels.lang() === "en" ? n.message_en : n.message)}</a> <small>${esc(when(n.at))}</small></li>`).join("")}</ul>`;
    $("#wb-rem-close").onclick = () => { drawer.hidden = true; };
    $("#wb-read").onclick = async () => { await api.post("/notifications/read", { all: true }); loadReminders(); };
    for (const a of drawer.querySelectorAll("[data-open]")) a.onclick = (ev) => { ev.preventDefault(); select(a.dataset.open, { moveMap: true }); };
  } catch (e) { /* a role without an inbox: the badge stays at 0 */ }
}

function toggleReminders() {
  const drawer = $("#wb-reminders");
  drawer.hidden = !drawer.hidden;
}

// -- live -----------------------------------------------------------------------------------------

let refreshTimer = null;
function refreshAll() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    loadTable();
    app.reloadAll(true);  // map and counts; the incident panel is ours and stays open
    loadReminders();
  }, 150);
}

async function changed(codes) {
  refreshAll();
  const form = $("#wb-form");
  // the open incident is read again, unless its user is filling in a form
  if (S.open && (!codes || codes.includes(S.open)) && (!form || form.hidden)) {
    try {
      const i = await api.get("/incidents/" + encodeURIComponent(S.open));
      if (S.open === i.code) { S.incident = i; renderIncident(i); loadPhotos(i.code); }
    } catch (e) { /* gone from my scope: leave what is shown */ }
  }
}

function goLive() {
  subscribe("/incidents/changes", (event, body) => {
    if (event === "changed") changed(body && body.codes);
    else if (event === "reload") changed(null);
  }, {
    onState(up) {
      S.live = up;
      const dot = $("#wb-live");
      dot.classList.toggle("wb-live-on", up);
      dot.title = up ? t("live") : t("live_off");
      document.body.dataset.wbLive = up ? "1" : "0";
      // polling only as a fallback while the stream is down
      if (up && app.timer) { clearInterval(app.timer); app.timer = null; }
      if (!up && !app.timer && app.refresh > 0) app.timer = setInterval(() => { app.reloadAll(true); loadTable(); }, app.refresh * 1000);
    },
  });
}

// -- start ----------------------------------------------------------------------------------------

async function start() {
  await labels.load(cfg.lang, cfg.labels);
  try {
    const facets = await api.get("/maps/facets");
    S.units = facets.unit || [];
    for (const u of S.units) S.unitNames[u.value] = u.label || "";
    for (const a of facets.area || []) if (a.label && a.label !== a.value) S.areaNames[a.value] = a.label;
  } catch (e) { /* no units to pick: the forms still work with the routed unit */ }
  build();
  boxSelect();
  document.addEventListener("gridmap:filters", () => { S.page = 1; S.allMatching = false; loadTable(); });
  document.addEventListener("gridmap:pick", (ev) => select(ev.detail.code));
  document.addEventListener("gridmap:signed-out", () => app.signOut());
  try { app.me = app.me || await api.get("/auth/me"); } catch (e) { /* signed out */ }
  loadSaved(true);
  loadTable();
  loadReminders();
  goLive();
  window.gridmapWorkbench = { state: S, select, loadTable };
}

async function boot() {
  if (labels.followRemembered(cfg.lang)) return;
  if (!labels.remembered() && await labels.followPreference(cfg.lang)) return;
  start();
}

if (app.started) boot();
else document.addEventListener("gridmap:begin", boot, { once: true });
