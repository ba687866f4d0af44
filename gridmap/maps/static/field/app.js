/* The grid worker's phone app: my cell's households, buildings, visits and tasks, offline first.
 *
 * Every view reads the phone's own copy of the cell (store.js: the pack of
 * GET /areas/{code}/pack); every edit goes to the queue with a client id and the version it
 * was made on, and is uploaded through POST /areas/{code}/sync — the API's own edits, so the
 * server's one validator answers (a refusal is shown in its words). A conflict (the object
 * changed on the server meanwhile) shows both versions; the worker keeps theirs (sent again
 * on the new version) or drops it. ``?since=`` keeps the copy current. A visit with a photo
 * goes through POST /households/{id}/visits (same client id, applied once) so the photo can
 * be attached to the incident it raised.
 *
 * Built on the shell (static/shell): api.js (the token kept in localStorage: the app must open
 * after a restart offline) and labels.js (the words, zh or en, from gridmap/i18n.py).
 */
import * as api from "../shell/api.js";
import * as labels from "../shell/labels.js";
import * as store from "./store.js";

const cfg = JSON.parse(document.getElementById("gm-field-config").textContent);
api.keepTokenIn("local");
const { t } = labels;

const S = {
  me: null, code: null, pack: null, queue: [], view: "households", stack: [],
  filter: { q: "", due: false, groups: false, renters: false },
  categories: [], tasks: [], notes: [], syncing: false, map: null,
};
window.gridmapField = S; // for tests and the benchmark: what the app holds

const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const $ = (sel, root = document) => root.querySelector(sel);
const SPECIAL = ["elderly_alone", "disabled", "left_behind_child", "key_person"];

function when(iso) {
  if (!iso) return t("never");
  const d = new Date(new Date(iso).getTime() + (8 * 60 + new Date().getTimezoneOffset()) * 60000);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}
const group = (tag) => cfg.groups[tag] || tag;
const isNetworkError = (e) => !(e instanceof api.Problem);

// -- the phone's copy ------------------------------------------------------------------------------

async function download() {
  const pack = await api.get(`/areas/${S.code}/pack`);
  S.pack = { code: S.code, user: S.me.username, generated_at: pack.generated_at, synced_at: new Date().toISOString(), data: pack };
  await store.put("pack", S.pack);
}

/** Fold ``?since=`` changes into the copy: rows replaced by id; households moved out, incidents
 * closed and task rows done elsewhere removed. */
function merge(data, delta) {
  const byId = (old, fresh, key = "id") => {
    const m = new Map(old.map((r) => [r[key], r]));
    for (const r of fresh) m.set(r[key], r);
    return [...m.values()];
  };
  const gone = new Set(delta.moved_out_households);
  data.area = delta.area;
  data.buildings = byId(data.buildings, delta.buildings);
  data.households = byId(data.households, delta.households).filter((h) => !gone.has(h.id));
  data.units = byId(data.units, delta.units);
  const closed = new Set(delta.closed_incidents || []), done = new Set(delta.done_task_items || []);
  data.incidents = byId(data.incidents, delta.incidents, "code").filter((i) => !closed.has(i.code));
  data.visits_due = delta.visits_due; // the whole list, in the server's order of urgency
  data.task_items = byId(data.task_items, delta.task_items).filter((i) => !done.has(i.id));
  return data;
}

async function refresh() {
  const delta = await api.get(`/areas/${S.code}/pack`, { since: S.pack.generated_at });
  S.pack.data = merge(S.pack.data, delta);
  S.pack.generated_at = delta.generated_at;
  S.pack.synced_at = new Date().toISOString();
  await store.put("pack", S.pack);
}

async function readMeta() {
  try {
    const groups = await api.get("/categories");
    S.categories = groups.flatMap((g) => g.categories.map((c) => ({ code: c.code, name: cfg.lang === "en" ? c.name_en : c.name })));
    await store.setMeta("categories", S.categories);
  } catch (e) { S.categories = (await store.meta("categories")) || []; }
  try {
    S.tasks = await api.get("/tasks");
    await store.setMeta("tasks", S.tasks);
  } catch (e) { S.tasks = (await store.meta("tasks")) || []; }
}

// -- the queue and the sync ------------------------------------------------------------------------

async function loadQueue() { S.queue = await store.queue(); }

async function enqueue(edit) {
  await store.enqueue(Object.assign({ cell: S.code, user: S.me.username }, edit));
  await loadQueue();
  render();
  if (navigator.onLine) sync();
}

function result(row, answer) {
  if (answer.status === "applied" || answer.status === "duplicate") return null;
  row.state = answer.code === "stale_version" ? "conflict" : "refused";
  row.answer = answer;
  return row;
}

async function sendPhotoVisit(row) {
  if (row.state === "pending") {
    try {
      const visit = await api.post(`/households/${row.target_id}/visits`, Object.assign({}, row.data, { client_id: row.client_id }));
      if (visit.warning) S.notes.push(visit.warning);
      row.incident_code = visit.incident_code;
      row.state = "photo";
      await store.put("queue", row);
    } catch (e) {
      if (isNetworkError(e)) throw e;
      row.state = e.status === 409 && e.body.code === "stale_version" ? "conflict" : "refused";
      row.answer = { status: row.state, code: e.body.code, detail: e.message, current: e.body.current, submitted: e.body.submitted };
      await store.put("queue", row);
      return;
    }
  }
  if (row.incident_code) {
    const form = new FormData();
    form.append("photo", row.photo, "visit.jpg");
    const r = await fetch(`${api.API}/incidents/${row.incident_code}/photos`, { method: "POST", headers: api.authHeaders(), body: form });
    if (!r.ok) {
      const body = await r.json().catch(() => ({}));
      row.state = "refused";
      row.answer = { status: "refused", code: body.code, detail: body.detail || String(r.status) };
      await store.put("queue", row);
      return;
    }
  }
  await store.remove("queue", row.client_id);
}

/** Upload what waits, in the order made; then fetch what changed. Safe to run twice. */
async function sync() {
  if (!S.pack) return;
  if (S.syncing) { S.again = true; return; } // an edit made meanwhile: one more round after this
  S.syncing = true;
  document.body.setAttribute("data-fa-syncing", "1");
  renderStatus();
  try {
    await loadQueue();
    // only this user's edits: another's wait for them to sign in again on this phone
    const waiting = S.queue.filter((r) => (r.state === "pending" || r.state === "photo") && (r.user || S.me.username) === S.me.username);
    for (const row of waiting.filter((r) => r.photo && r.kind === "visit" && r.data.incident_category)) {
      await sendPhotoVisit(row);
    }
    const rest = waiting.filter((r) => !(r.photo && r.kind === "visit" && r.data.incident_category));
    const cells = [...new Set(rest.map((r) => r.cell))];
    for (const cell of cells) {
      const rows = rest.filter((r) => r.cell === cell);
      const answers = await api.post(`/areas/${cell}/sync`, {
        edits: rows.map((r) => ({ client_id: r.client_id, kind: r.kind, target_id: r.target_id, data: r.data })),
      });
      for (const answer of answers) {
        const row = rows.find((r) => r.client_id === answer.client_id);
        if (!row) continue;
        if (answer.detail && answer.object_type === "visit") S.notes.push(answer.detail); // the 100 m warning
        const kept = result(row, answer);
        if (kept) await store.put("queue", kept);
        else await store.remove("queue", row.client_id);
      }
    }
    await refresh();
    await readMeta();
  } catch (e) {
    if (!isNetworkError(e)) S.notes.push(e.message);
  } finally {
    S.syncing = false;
    document.body.setAttribute("data-fa-syncing", "0");
    await loadQueue();
    renderQuietly();
    if (S.again) { S.again = false; sync(); }
  }
}

// -- what the copy says, with the queue on top -----------------------------------------------------

const waitingFor = (kind, target) => S.queue.filter((r) => r.kind === kind && r.target_id === target && r.state !== "refused");

function households() {
  const f = S.filter;
  const due = new Set(S.pack.data.visits_due.map((d) => d.household_id));
  const words = f.q.trim().toLowerCase().split(/\s+/).filter(Boolean);
  return S.pack.data.households.filter((h) => {
    if (f.due && (!due.has(h.id) || waitingFor("visit", h.id).length)) return false;
    const tags = h.members.flatMap((m) => m.tags);
    if (f.groups && !tags.some((x) => SPECIAL.includes(x))) return false;
    if (f.renters && !h.rented && !tags.includes("migrant")) return false;
    if (!words.length) return true;
    const text = [h.address, h.unit_no, ...h.members.map((m) => m.name)].join(" ").toLowerCase();
    return words.every((w) => text.includes(w));
  });
}

function household(id) { return S.pack.data.households.find((h) => h.id === id); }

// -- layout ------------------------------------------------------------------------------------------

const TABS = ["households", "map", "visits", "tasks", "sync"];

function build() {
  $("#fa").innerHTML = `
    <header class="fa-top">
      <div><b id="fa-cell"></b> <span id="fa-net" class="fa-net"></span></div>
      <div class="fa-status" id="fa-status"></div>
      <button type="button" id="fa-lang" class="fa-small">${esc(t("other_language"))}</button>
    </header>
    <section id="fa-view" class="fa-view"></section>
    <nav class="fa-tabs">${TABS.map((k) => `<button type="button" data-tab="${k}">${esc(t("tab_" + k))}${k === "sync" ? ' <b id="fa-badge"></b>' : ""}</button>`).join("")}</nav>
    <p id="fa-notes" class="fa-notes" hidden></p>`;
  for (const b of document.querySelectorAll(".fa-tabs button")) {
    b.onclick = () => { S.view = b.dataset.tab; S.stack = []; render(); };
  }
  $("#fa-lang").onclick = () => labels.switchTo(labels.lang() === "en" ? "zh" : "en");
  window.addEventListener("online", () => { renderStatus(); sync(); });
  window.addEventListener("offline", renderStatus);
}

function renderStatus() {
  if (!$("#fa-status")) return;
  const waiting = S.queue.length;
  $("#fa-cell").textContent = S.pack ? S.pack.data.area.name || S.code : S.code || "";
  $("#fa-net").textContent = navigator.onLine ? t("online") : t("offline");
  $("#fa-net").className = "fa-net " + (navigator.onLine ? "on" : "off");
  $("#fa-status").innerHTML = `${esc(t("last_synced"))} <span id="fa-synced">${esc(S.pack ? when(S.pack.synced_at) : t("never"))}</span>
    · <b id="fa-waiting">${waiting}</b> ${esc(t("edits_waiting"))}`;
  $("#fa-badge").textContent = waiting ? String(waiting) : "";
  if (S.notes.length) { $("#fa-notes").hidden = false; $("#fa-notes").textContent = S.notes.slice(-3).join(" · "); }
}

function render() {
  renderStatus();
  for (const b of document.querySelectorAll(".fa-tabs button")) b.classList.toggle("on", b.dataset.tab === S.view);
  const box = $("#fa-view");
  if (!S.pack) { box.innerHTML = `<p class="fa-empty">${esc(t("no_pack"))}</p>`; return; }
  const top = S.stack[S.stack.length - 1];
  if (top) return top();
  ({ households: viewHouseholds, map: viewMap, visits: viewVisits, tasks: viewTasks, sync: viewSync })[S.view]();
  document.body.setAttribute("data-fa-view", S.view);
}

/** After a background sync: the status always, the view unless the worker is filling a form. */
function renderQuietly() {
  if (document.querySelector("#fa-view form:not(.fa-task)")) renderStatus();
  else render();
}

function open(fn) { S.stack.push(fn); render(); }
function back() { S.stack.pop(); render(); }
const backButton = () => `<button type="button" class="fa-back">‹ ${esc(t("back"))}</button>`;
function wireBack(box) { const b = $(".fa-back", box); if (b) b.onclick = back; }

// -- households ----------------------------------------------------------------------------------------

function householdRow(h) {
  const head = h.members.find((m) => m.is_household_head) || h.members[0];
  const tags = [...new Set(h.members.flatMap((m) => m.tags))];
  const queued = S.queue.some((r) => r.target_id === h.id && r.kind !== "complete_task_row");
  return `<button type="button" class="fa-row" data-household="${h.id}">
    <span class="fa-main">${esc(h.address)} ${esc(h.unit_no || "")}</span>
    <span class="fa-sub">${esc(head ? head.name : "")} · ${h.size} ${esc(t("members"))}${h.rented ? " · " + esc(t("renter")) : ""}
    ${tags.map((x) => `<i class="fa-tag">${esc(group(x))}</i>`).join("")}${queued ? ` <i class="fa-queued">${esc(t("queued"))}</i>` : ""}</span></button>`;
}

function wireHouseholds(box) {
  for (const b of box.querySelectorAll("[data-household]")) b.onclick = () => openHousehold(Number(b.dataset.household));
}

function viewHouseholds() {
  const box = $("#fa-view");
  const f = S.filter;
  box.innerHTML = `
    <input type="search" id="fa-q" class="fa-search" placeholder="${esc(t("search_households"))}" value="${esc(f.q)}" maxlength="60">
    <div class="fa-chips">${["due", "groups", "renters"].map((k) =>
      `<label class="fa-chip"><input type="checkbox" data-filter="${k}" ${f[k] ? "checked" : ""}> ${esc(t("filter_" + k))}</label>`).join("")}</div>
    <p class="fa-count" id="fa-count"></p><div id="fa-list" class="fa-list"></div>`;
  const list = () => {
    const rows = households();
    $("#fa-count").textContent = `${rows.length} / ${S.pack.data.households.length}`;
    $("#fa-list").innerHTML = rows.length ? rows.slice(0, 200).map(householdRow).join("") : `<p class="fa-empty">${esc(t("no_households"))}</p>`;
    wireHouseholds($("#fa-list"));
  };
  $("#fa-q").oninput = (e) => { f.q = e.target.value; list(); };
  for (const c of box.querySelectorAll("[data-filter]")) c.onchange = () => { f[c.dataset.filter] = c.checked; list(); };
  list();
}

function openHousehold(id) {
  open(() => {
    const box = $("#fa-view");
    const h = household(id);
    if (!h) { back(); return; }
    const mayUnmask = S.me && cfg.unmask_roles.includes(S.me.role);
    const pending = S.queue.filter((r) => r.kind === "register_person" && r.target_id === id);
    box.innerHTML = `${backButton()}
      <h2 class="fa-h">${esc(h.address)} ${esc(h.unit_no || "")}</h2>
      <p class="fa-sub">${esc(t("household"))} #${h.id} · ${esc(t("visit"))}: ${esc(h.last_visit_at ? when(h.last_visit_at) : t("never_visited"))}</p>
      <div class="fa-actions">
        <button type="button" id="fa-visit">${esc(t("record_visit"))}</button>
        <button type="button" id="fa-add-person">${esc(t("register_person"))}</button>
        <button type="button" id="fa-moved-out" class="fa-quiet">${esc(t("mark_moved_out"))}</button>
      </div>
      <h3>${esc(t("members"))}</h3>
      <ul class="fa-members">${h.members.map((m) => `<li data-person="${m.id}">
        <b class="fa-name">${esc(m.name)}</b> ${esc(m.gender || "")} ${m.age ?? ""} <span class="fa-phone">${esc(m.phone || "")}</span>
        <span class="fa-idno">${esc(m.id_number || "")}</span>
        ${m.tags.map((x) => `<i class="fa-tag">${esc(group(x))}</i>`).join("")}
        <span class="fa-person-actions">
          ${mayUnmask ? `<button type="button" class="fa-small" data-unmask="${m.id}">${esc(t("unmask"))}</button>` : ""}
          <button type="button" class="fa-small fa-quiet" data-phone-of="${m.id}">${esc(t("update_phone"))}</button>
          <button type="button" class="fa-small fa-quiet" data-status="moved_out" data-of="${m.id}">${esc(t("person_moved_out"))}</button>
          <button type="button" class="fa-small fa-quiet" data-status="deceased" data-of="${m.id}">${esc(t("mark_deceased"))}</button>
        </span></li>`).join("")}
        ${pending.map((r) => `<li class="fa-pending"><b>${esc(r.data.name)}</b> <i class="fa-queued">${esc(t("queued"))}</i></li>`).join("")}</ul>
      <div id="fa-form"></div>`;
    wireBack(box);
    $("#fa-visit").onclick = () => visitForm(h);
    $("#fa-add-person").onclick = () => personForm(h);
    $("#fa-moved-out").onclick = () => enqueue({ kind: "household_moved_out", target_id: h.id, data: { version: h.version }, label: `${t("mark_moved_out")} ${h.address} ${h.unit_no || ""}` });
    for (const b of box.querySelectorAll("[data-status]")) {
      const m = h.members.find((x) => x.id === Number(b.dataset.of));
      b.onclick = () => enqueue({ kind: "set_person_status", target_id: m.id, data: { version: m.version, status: b.dataset.status }, label: `${t(b.dataset.status)} ${m.name}` });
    }
    for (const b of box.querySelectorAll("[data-phone-of]")) {
      const m = h.members.find((x) => x.id === Number(b.dataset.phoneOf));
      b.onclick = () => {
        const phone = (window.prompt(t("update_phone")) || "").trim();
        if (phone) enqueue({ kind: "update_person", target_id: m.id, data: { version: m.version, phone }, label: `${t("update_phone")} ${m.name}` });
      };
    }
    for (const b of box.querySelectorAll("[data-unmask]")) b.onclick = () => unmask(Number(b.dataset.unmask), b.closest("li"));
  });
}

async function unmask(personId, li) {
  const reason = window.prompt(t("unmask_reason"));
  if (!reason) return;
  try {
    const p = await api.get(`/people/${personId}`, { unmasked: true, reason });
    $(".fa-name", li).textContent = p.name;
    $(".fa-phone", li).textContent = p.phone || "";
    $(".fa-idno", li).textContent = p.id_number || "";
  } catch (e) {
    S.notes.push(isNetworkError(e) ? t("offline") : e.message);
    renderStatus();
  }
}

/** Register a person into household ``h`` — or, with ``house``, a new household (its head). */
function personForm(h, house) {
  const box = $("#fa-form");
  box.innerHTML = `<form class="fa-form" id="fa-person-form">
    <label>${esc(t("name"))}<input name="name" required maxlength="50"></label>
    <label>${esc(t("id_number"))}<input name="id_number" required maxlength="18" autocomplete="off"></label>
    <label>${esc(t("phone"))}<input name="phone" inputmode="tel" maxlength="20"></label>
    <div class="fa-chips">${Object.keys(cfg.groups).map((k) => `<label class="fa-chip"><input type="checkbox" name="tags" value="${k}"> ${esc(group(k))}</label>`).join("")}</div>
    <button type="submit">${esc(t("save"))}</button></form>`;
  $("#fa-person-form").onsubmit = (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const data = { name: f.get("name").trim(), id_number: f.get("id_number").trim(), tags: f.getAll("tags") };
    if (f.get("phone").trim()) data.phone = f.get("phone").trim();
    if (house) {
      data.is_household_head = true;
      const body = { house_id: house.id, rented: house.is_rented, members: [data] };
      enqueue({ kind: "register_household", target_id: null, data: body, label: `${t("register_household")} ${house.unit_no} ${data.name}` });
    } else {
      enqueue({ kind: "register_person", target_id: h.id, data, label: `${t("register_person")} ${data.name}` });
    }
  };
}

function position() {
  return new Promise((resolve) => {
    if (!navigator.geolocation) return resolve(null);
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lon: p.coords.longitude, lat: p.coords.latitude }),
      () => resolve(null), { timeout: 5000, maximumAge: 60000 });
  });
}

function visitForm(h) {
  const box = $("#fa-form");
  box.innerHTML = `<form class="fa-form" id="fa-visit-form">
    <label>${esc(t("findings"))}<textarea name="findings" rows="3" maxlength="5000"></textarea></label>
    <label class="fa-check"><input type="checkbox" name="follow_up_needed"> ${esc(t("follow_up_needed"))}</label>
    <label class="fa-check"><input type="checkbox" name="gps" checked> ${esc(t("use_gps"))}</label>
    <label class="fa-check"><input type="checkbox" name="incident"> ${esc(t("report_incident"))}</label>
    <div id="fa-incident" hidden>
      <label>${esc(t("incident_category"))}<select name="category">${S.categories.map((c) => `<option value="${esc(c.code)}">${esc(c.name)}</option>`).join("")}</select></label>
      <label>${esc(t("photo"))}<input type="file" name="photo" accept="image/*" capture="environment"></label>
    </div>
    <button type="submit">${esc(t("save"))}</button></form>`;
  const form = $("#fa-visit-form");
  form.incident.onchange = () => { $("#fa-incident").hidden = !form.incident.checked; };
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    const data = { visited_at: new Date().toISOString(), findings: form.findings.value, follow_up_needed: form.follow_up_needed.checked };
    let photo = null;
    if (form.incident.checked && form.category.value) {
      data.incident_category = form.category.value;
      photo = form.photo.files[0] || null;
    }
    if (form.gps.checked) {
      const at = await position();
      if (at) Object.assign(data, at);
      else S.notes.push(t("gps_unavailable"));
    }
    await enqueue({ kind: "visit", target_id: h.id, data, photo, label: `${t("visit")} ${h.address} ${h.unit_no || ""}` });
    back();
  };
}

// -- the map ---------------------------------------------------------------------------------------------

function viewMap() {
  const box = $("#fa-view");
  box.innerHTML = `<div id="fa-map" class="fa-map"></div><div id="fa-building"></div>`;
  const map = L.map("fa-map", { zoomControl: true, preferCanvas: false });
  S.map = map;
  const outline = S.pack.data.area.geometry;
  const shape = outline ? L.geoJSON(outline, { style: { color: "#1f5f99", weight: 2, fillOpacity: 0.05 } }) : null;
  if (shape) map.fitBounds(shape.getBounds()); else map.setView([24.9, 118.6], 15); // a view before any layer
  if (shape) shape.addTo(map);
  for (const b of S.pack.data.buildings) {
    if (b.lon == null) continue;
    L.circleMarker([b.lat, b.lon], { radius: 7, color: "#d9480f", weight: 2, fillOpacity: 0.6, className: "fa-building" })
      .on("click", () => openBuilding(b.id)).addTo(map);
  }
}

function openBuilding(id) {
  open(() => {
    const box = $("#fa-view");
    const b = S.pack.data.buildings.find((x) => x.id === id);
    box.innerHTML = `${backButton()}<h2 class="fa-h" data-building="${b.id}">${esc(b.name || b.address)}</h2>
      <p class="fa-sub">${esc(b.address)} · ${b.floors ?? ""}F · ${b.households} ${esc(t("households"))}</p>
      <h3>${esc(t("houses"))}</h3><div class="fa-list">${b.houses.map((h) => `<button type="button" class="fa-row" data-house="${h.id}">
        <span class="fa-main">${esc(h.unit_no)}</span><span class="fa-sub">${h.households} ${esc(t("households"))}${h.is_rented ? " · " + esc(t("renter")) : ""}</span></button>`).join("")}</div>`;
    wireBack(box);
    for (const x of box.querySelectorAll("[data-house]")) x.onclick = () => openHouse(b, Number(x.dataset.house));
  });
}

function openHouse(b, houseId) {
  open(() => {
    const box = $("#fa-view");
    const house = b.houses.find((h) => h.id === houseId);
    const rows = S.pack.data.households.filter((h) => h.house_id === houseId);
    const pending = S.queue.filter((r) => r.kind === "register_household" && r.data.house_id === houseId);
    box.innerHTML = `${backButton()}<h2 class="fa-h">${esc(b.address)} ${esc(house.unit_no)}</h2>
      <div class="fa-list">${rows.map(householdRow).join("") || `<p class="fa-empty">${esc(t("no_households"))}</p>`}
      ${pending.map((r) => `<p class="fa-pending">${esc(r.label)} <i class="fa-queued">${esc(t("queued"))}</i></p>`).join("")}</div>
      <div class="fa-actions"><button type="button" id="fa-add-household">${esc(t("register_household"))}</button></div>
      <div id="fa-form"></div>`;
    wireBack(box);
    wireHouseholds(box);
    $("#fa-add-household").onclick = () => personForm(null, house);
  });
}

// -- visits ---------------------------------------------------------------------------------------------

function viewVisits() {
  const box = $("#fa-view");
  const due = S.pack.data.visits_due; // the server's order: the registry's interval rule
  box.innerHTML = `<h2 class="fa-h">${esc(t("filter_due"))} (${due.length})</h2><div class="fa-list">${due.map((d) => {
    const queued = waitingFor("visit", d.household_id).length;
    return `<button type="button" class="fa-row${queued ? " fa-done" : ""}" data-household="${d.household_id}">
      <span class="fa-main">${esc(d.address)}</span>
      <span class="fa-sub">${d.groups.map((x) => `<i class="fa-tag">${esc(group(x))}</i>`).join("")}
      ${esc(t("interval_days"))} ${d.interval_days} · ${d.last_visit_at ? `${esc(t("overdue_days"))} ${d.overdue_days}` : esc(t("never_visited"))}
      ${queued ? ` <i class="fa-queued">${esc(t("queued"))}</i>` : ""}</span></button>`;
  }).join("") || `<p class="fa-empty">${esc(t("no_visits_due"))}</p>`}</div>`;
  wireHouseholds(box);
}

// -- tasks ------------------------------------------------------------------------------------------------

function viewTasks() {
  const box = $("#fa-view");
  const items = S.pack.data.task_items;
  const sheets = [...new Set(items.map((i) => i.task_id))];
  const progress = S.tasks.filter((x) => x.by_cell.some((c) => c.key === S.code) || sheets.includes(x.id)).map((x) => {
    const cell = x.by_cell.find((c) => c.key === S.code) || { total: x.total, done: x.done };
    const mine = x.by_worker.find((w) => w.key === S.me.username) || { done: 0, total: cell.total };
    return `<p class="fa-progress" data-task="${x.id}"><b>${esc(x.title)}</b> · ${esc(t("due_at"))} ${esc(when(x.due_at))}<br>
      ${esc(t("my_progress"))} <b class="fa-mine">${mine.done}</b> · ${esc(t("cell_progress"))} <b class="fa-cellp">${cell.done}/${cell.total}</b></p>`;
  });
  box.innerHTML = `<h2 class="fa-h">${esc(t("tab_tasks"))}</h2>${progress.join("")}
    <div class="fa-list">${items.map((i) => {
      const queued = waitingFor("complete_task_row", i.id).length;
      const sheet = S.tasks.find((x) => x.id === i.task_id);
      return `<form class="fa-task${queued ? " fa-done" : ""}" data-item="${i.id}">
        <span class="fa-main">${esc(i.label)}</span><span class="fa-sub">${esc(i.task_title)}${sheet ? " · " + esc(t("due_at")) + " " + esc(when(sheet.due_at)) : ""}</span>
        ${queued ? `<i class="fa-queued">${esc(t("queued"))}</i>` : `<input name="result" required maxlength="2000" placeholder="${esc(t("result"))}">
        <button type="submit">${esc(t("complete"))}</button>`}</form>`;
    }).join("") || `<p class="fa-empty">${esc(t("no_tasks"))}</p>`}</div>`;
  for (const form of box.querySelectorAll("form[data-item]")) {
    form.onsubmit = (ev) => {
      ev.preventDefault();
      const item = items.find((i) => i.id === Number(form.dataset.item));
      enqueue({ kind: "complete_task_row", target_id: item.id, data: { version: item.version, result: form.result.value }, label: `${t("complete")} ${item.label}` });
    };
  }
}

// -- sync: what waits, conflicts with both versions --------------------------------------------------------

function versions(row) {
  const a = row.answer.current || {};
  const b = row.answer.submitted || row.data;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => k !== "client_id");
  return `<table class="fa-versions"><tr><th></th><th>${esc(t("server_version"))}</th><th>${esc(t("my_version"))}</th></tr>
    ${keys.map((k) => `<tr class="${JSON.stringify(a[k]) !== JSON.stringify(b[k]) ? "fa-diff" : ""}"><td>${esc(k)}</td>
      <td class="fa-server">${esc(a[k] === undefined ? "" : JSON.stringify(a[k]))}</td><td class="fa-mine">${esc(b[k] === undefined ? "" : JSON.stringify(b[k]))}</td></tr>`).join("")}</table>`;
}

function viewSync() {
  const box = $("#fa-view");
  box.innerHTML = `<h2 class="fa-h">${esc(t("tab_sync"))}</h2>
    <button type="button" id="fa-sync" class="fa-wide" ${S.syncing ? "disabled" : ""}>${esc(t("sync_now"))}</button>
    <div class="fa-list">${S.queue.map((r) => `<div class="fa-edit fa-${r.state}" data-client="${esc(r.client_id)}">
      <span class="fa-main">${esc(r.label || r.kind)}</span>
      <span class="fa-sub">${esc(when(r.created_at))} · ${esc(r.state === "conflict" ? t("conflict") : r.state === "refused" ? t("refused_edit") : t("queued"))}${r.photo ? " · " + esc(t("photo")) : ""}</span>
      ${r.state === "conflict" ? `<p>${esc(t("conflict_help"))}</p>${versions(r)}
        <button type="button" data-keep="mine">${esc(t("keep_mine"))}</button> <button type="button" data-keep="server">${esc(t("keep_server"))}</button>` : ""}
      ${r.state === "refused" ? `<p class="fa-error">${esc(r.answer.detail || r.answer.code)}</p><button type="button" data-keep="server">${esc(t("drop"))}</button>` : ""}
    </div>`).join("")}</div>`;
  $("#fa-sync").onclick = () => sync();
  for (const b of box.querySelectorAll("[data-keep]")) {
    b.onclick = async () => {
      const row = S.queue.find((r) => r.client_id === b.closest("[data-client]").dataset.client);
      if (b.dataset.keep === "mine") {
        // the worker's edit stays: sent again on the version the server has now
        row.data = Object.assign({}, row.data, { version: row.answer.current.version });
        row.state = "pending";
        delete row.answer;
        await store.put("queue", row); // the same client id: the refused upload was not kept
      } else {
        await store.remove("queue", row.client_id);
      }
      await loadQueue();
      render();
      if (navigator.onLine) sync();
    };
  }
}

// -- sign-in and start ---------------------------------------------------------------------------------------

function signIn(failed) {
  $("#fa").innerHTML = `<form class="fa-form fa-signin" id="fa-signin"><h2>${esc(t("field_title"))}</h2>
    <label>${esc(t("username"))}<input name="username" autocomplete="username" required></label>
    <label>${esc(t("password"))}<input name="password" type="password" autocomplete="current-password" required></label>
    <p class="fa-error">${esc(failed || "")}</p><button type="submit">${esc(t("sign_in"))}</button>
    <button type="button" id="fa-lang" class="fa-small">${esc(t("other_language"))}</button></form>`;
  $("#fa-lang").onclick = () => labels.switchTo(labels.lang() === "en" ? "zh" : "en");
  $("#fa-signin").onsubmit = async (ev) => {
    ev.preventDefault();
    try {
      const r = await fetch(api.API + "/auth/token", { method: "POST", body: new URLSearchParams(new FormData(ev.target)) });
      const body = await r.json();
      if (!r.ok) return signIn(body.detail || t("sign_in_failed"));
      api.setToken(body.access_token);
      start();
    } catch (e) { signIn(t("offline")); }
  };
}

async function start() {
  if (!api.token()) return signIn();
  let me = null;
  try {
    me = await api.get("/auth/me");
    await store.setMeta("me", me);
  } catch (e) {
    if (!isNetworkError(e) && e.status === 401) { api.setToken(null); return signIn(); }
    me = await store.meta("me");
  }
  if (!me) return signIn();
  S.me = me;
  S.code = me.area_code;
  if (await store.dropPacksBut(S.code)) S.notes.push(t("pack_dropped")); // moved to another cell
  S.pack = (await store.get("pack", S.code)) || null;
  await loadQueue();
  S.categories = (await store.meta("categories")) || [];
  S.tasks = (await store.meta("tasks")) || [];
  build();
  if (!S.pack) {
    try { await download(); } catch (e) { S.notes.push(isNetworkError(e) ? t("no_pack") : e.message); }
  }
  render();
  document.body.setAttribute("data-fa-ready", "1");
  if (S.pack && navigator.onLine) {
    if (S.queue.length) sync();
    else {
      document.body.setAttribute("data-fa-syncing", "1");
      try { await readMeta(); await refresh(); } catch (e) { /* offline after all */ }
      document.body.setAttribute("data-fa-syncing", "0");
      renderQuietly();
    }
  }
}

document.addEventListener("gridmap:signed-out", () => { api.setToken(null); signIn(); });
if ("serviceWorker" in navigator) navigator.serviceWorker.register(cfg.scope + "sw.js", { scope: cfg.scope }).catch(() => {});
labels.followRemembered(cfg.lang) || labels.load(cfg.lang, cfg.labels).then(start);
