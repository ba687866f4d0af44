/* The planner's studio: pick an area, lock cells, rebalance as a job, compare the draft
 * with the plan in force on two linked maps, read the deviation table and the change-impact
 * report; a city administrator also prepares and activates drafts.
 *
 * Built on the shell (static/shell: api.js, labels.js). The page offers only what the API
 * allows: drafting when /auth/me says the role prepares plans (gridmap/scope.py), publishing
 * when it publishes them; a role without either sees why and nothing else. Every number
 * comes from the API: the job's summary (the engine's cell table), /plans/{id}/impact and
 * the plan_cells layer (households, deviation, change per cell).
 */
import * as api from "../shell/api.js";
import * as labels from "../shell/labels.js";
import { markBlocked, openEdits } from "./edits.js";

const { t } = labels;
const cfg = JSON.parse(document.getElementById("gm-config").textContent);
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const $ = (sel, root = document) => root.querySelector(sel);
const pct = (x) => (x === null || x === undefined ? "" : `${x > 0 ? "+" : ""}${(x * 100).toFixed(1)}%`);
const num = (n) => Number(n || 0).toLocaleString(cfg.lang === "en" ? "en" : "zh-CN");

const S = {
  me: null, active: null, area: null, bounds: null, locked: new Set(), job: null, draft: null,
  maps: {}, layers: { before: null, after: null }, cells: { before: {}, after: {} }, highlighted: [],
  changed: null,
};

// -- sign-in and refusal -----------------------------------------------------------------------

function signInForm(problem) {
  $("#studio").innerHTML = `
    <form id="st-sign-in" class="st-card">
      <h1>${esc(t("studio_title"))}</h1>
      <label>${esc(t("username"))} <input name="username" autocomplete="username" required></label>
      <label>${esc(t("password"))} <input name="password" type="password" autocomplete="current-password" required></label>
      <button type="submit">${esc(t("sign_in"))}</button>
      <p class="st-error">${esc(problem || "")}</p>
    </form>`;
  $("#st-sign-in").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const r = await fetch(api.API + "/auth/token", { method: "POST", body: new URLSearchParams(new FormData(ev.target)) });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) return signInForm(body.detail || t("sign_in_failed"));
    window.sessionStorage.setItem(api.TOKEN_KEY, body.access_token);
    window.location.reload();
  });
}

// -- layout ------------------------------------------------------------------------------------

function build() {
  const drafting = ["prepare", "publish"].includes(S.me.plan_work);
  const publishing = S.me.plan_work === "publish";
  const other = labels.lang() === "en" ? "zh" : "en";
  $("#studio").innerHTML = `
    <header class="st-head">
      <h1>${esc(t("studio_title"))}</h1>
      <span>${esc(t("signed_in_as"))}: <b id="st-user">${esc(S.me.username)}</b></span>
      <button type="button" id="st-lang">${esc(t("other_language"))}</button>
      <button type="button" id="st-out">${esc(t("sign_out"))}</button>
    </header>
    <section id="st-setup" class="st-card" ${drafting ? "" : "hidden"}>
      <div class="st-row">
        <label>${esc(t("county"))} <select id="st-county"></select></label>
        <label>${esc(t("township"))} <select id="st-township"></select></label>
        <label>${esc(t("village"))} <select id="st-village"></select></label>
      </div>
      <div class="st-row">
        <label>${esc(t("cell_target"))} <input id="st-target" type="number" min="1" max="100000" step="1" value="400"></label>
        <label>${esc(t("tolerance"))} <input id="st-tolerance" type="number" min="1" max="50" step="1" value="10"> %</label>
        <label>${esc(t("draft_name"))} <input id="st-name" maxlength="200"></label>
        <button type="button" id="st-start" disabled>${esc(t("start_rebalance"))}</button>
        <button type="button" id="st-cancel" hidden>${esc(t("cancel_job"))}</button>
      </div>
      <div class="st-row"><span>${esc(t("locked_cells"))}:</span> <span id="st-locked"></span>
        <small>${esc(t("lock_hint"))}</small></div>
      <div id="st-job" class="st-job" data-state=""></div>
    </section>
    <div id="st-maps" ${drafting ? "" : "hidden"}>
      <figure><figcaption id="st-cap-before">${esc(t("plan_in_force"))}</figcaption><div id="st-map-before" class="st-map"></div></figure>
      <figure><figcaption id="st-cap-after">${esc(t("draft"))}</figcaption><div id="st-map-after" class="st-map"></div></figure>
    </div>
    <div id="st-results" class="st-results" hidden>
      <section class="st-card"><h2>${esc(t("deviation_table"))}</h2><div id="st-problems"></div>
        <table id="st-table"><thead><tr><th>${esc(t("cell"))}</th><th>${esc(t("households"))}</th>
        <th>${esc(t("deviation"))}</th><th>${esc(t("within_band"))}</th><th>${esc(t("contiguous"))}</th></tr></thead><tbody></tbody></table></section>
      <section class="st-card" id="st-impact"><h2>${esc(t("impact_report"))}</h2><div class="st-body"></div></section>
    </div>
    <section id="st-publish" class="st-card" ${publishing ? "" : "hidden"}>
      <h2>${esc(t("publish"))}</h2>
      <table id="st-drafts"><tbody></tbody></table>
      <div id="st-publish-state" data-state=""></div>
      <section id="st-publish-impact"></section>
    </section>
    <p id="st-refused" class="st-card" ${drafting || publishing ? "hidden" : ""}>${esc(t("studio_refused"))}</p>`;
  $("#st-lang").addEventListener("click", () => labels.switchTo(other));
  $("#st-out").addEventListener("click", () => { window.sessionStorage.removeItem(api.TOKEN_KEY); window.location.reload(); });
  if (drafting) {
    makeMaps();
    $("#st-county").addEventListener("change", () => pickChildren("#st-county", "#st-township", "#st-village"));
    $("#st-township").addEventListener("change", () => pickChildren("#st-township", "#st-village"));
    $("#st-village").addEventListener("change", chooseArea);
    $("#st-start").addEventListener("click", start);
    $("#st-cancel").addEventListener("click", cancel);
  }
}

// -- the two maps, pan and zoom linked ---------------------------------------------------------

function makeMaps() {
  for (const side of ["before", "after"]) {
    S.maps[side] = L.map(`st-map-${side}`, { zoomControl: true }).setView([24.95, 118.45], 9);
  }
  let syncing = false;
  const link = (from, to) => S.maps[from].on("move", () => {
    if (syncing) return;
    syncing = true;
    S.maps[to].setView(S.maps[from].getCenter(), S.maps[from].getZoom(), { animate: false });
    syncing = false;
  });
  link("before", "after");
  link("after", "before");
  window.gridmapStudio = { maps: S.maps, state: S, highlight };
}

function cellStyle(side, f) {
  const p = f.properties;
  // changed: households move in or out (the impact report), once it is in; before, the
  // layer's own test (outline not equal), which a redrawn but unchanged cell fails
  const changed = S.changed ? S.changed.has(p.code) : p.change === "changed" || p.change === "added";
  const locked = side === "before" && S.locked.has(p.code);
  return {
    color: locked ? "#7c3aed" : changed ? "#111827" : "#64748b",
    weight: locked ? 4 : changed ? 3 : 1, dashArray: changed && !locked ? "6 4" : null,
    fillColor: p._color || "#e5e7eb", fillOpacity: 0.55,
    className: `st-cell${changed ? " st-changed" : ""}${locked ? " st-locked" : ""}`,
  };
}

async function drawCells(side, plan, compare) {
  const target = Number($("#st-target").value) || 400;
  const [x0, y0, x1, y1] = S.bounds;
  // the area's cells simplified for the zoom the area is seen at (gridmap/maps/plan_cells.py)
  const zoom = Math.round(S.maps[side].getBoundsZoom(L.latLngBounds([[y0, x0], [y1, x1]])));
  const fc = await api.get("/layers/plan_cells/features", {
    plan, compare, area: S.area, bbox: [x0, y0, x1, y1].join(","), zoom, target, lang: labels.lang(),
  });
  if (S.layers[side]) S.layers[side].remove();
  S.cells[side] = {};
  S.layers[side] = L.geoJSON(fc, {
    style: (f) => cellStyle(side, f),
    onEachFeature: (f, layer) => {
      S.cells[side][f.properties.code] = layer;
      layer.bindTooltip(`${esc(f.properties.code)} · ${num(f.properties.households)} · ${pct(f.properties.deviation)}`);
      if (side === "before") layer.on("click", () => toggleLock(f.properties.code));
    },
  }).addTo(S.maps[side]);
  S.maps[side].getContainer().setAttribute("data-cells", String(fc.features.length));
}

function toggleLock(code) {
  if (S.locked.has(code)) S.locked.delete(code); else S.locked.add(code);
  const layer = S.cells.before[code];
  if (layer) {
    layer.setStyle(cellStyle("before", layer.feature));
    const el = layer.getElement();
    if (el) el.classList.toggle("st-locked", S.locked.has(code));
  }
  renderLocked();
}

function renderLocked() {
  $("#st-locked").innerHTML = [...S.locked].sort().map((c) => `<code>${esc(c)}</code>`).join(" ");
}

/** Outline ``codes`` on both maps (a row of a table clicked). */
function highlight(codes) {
  for (const el of document.querySelectorAll(".st-hl")) el.classList.remove("st-hl");
  S.highlighted = codes;
  for (const side of ["before", "after"]) {
    for (const code of codes) {
      const layer = S.cells[side][code];
      const el = layer && layer.getElement();
      if (el) { el.classList.add("st-hl"); layer.bringToFront(); }
    }
  }
  for (const tr of document.querySelectorAll("#st-results tr[data-cells]")) {
    tr.classList.toggle("st-row-hl", tr.getAttribute("data-cells") === codes.join(" "));
  }
}

// -- the area picker ---------------------------------------------------------------------------

function fill(select, children, blank) {
  select.innerHTML = (blank ? `<option value="">—</option>` : "") +
    children.map((c) => `<option value="${esc(c.code)}">${esc(c.name)} (${esc(c.code)})</option>`).join("");
}

async function pickChildren(fromSel, toSel, clearSel) {
  const code = $(fromSel).value;
  if (clearSel) fill($(clearSel), [], true);
  if (!code) { fill($(toSel), [], true); return; }
  const area = await api.get(`/areas/${code}`);
  fill($(toSel), area.children, true);
  if (toSel === "#st-village") await chooseArea();
}

async function chooseArea() {
  const code = $("#st-village").value || $("#st-township").value;
  if (!code) return;
  const area = await api.get(`/areas/${code}`);
  S.area = code;
  S.locked.clear();
  renderLocked();
  const box = L.geoJSON(area.geometry).getBounds();
  S.bounds = [box.getWest(), box.getSouth(), box.getEast(), box.getNorth()];
  document.body.setAttribute("data-area", code);
  S.maps.before.fitBounds(box);
  await drawCells("before", S.active, null);
  if (S.layers.after) { S.layers.after.remove(); S.layers.after = null; }
  $("#st-results").hidden = true;
  $("#st-start").disabled = false;
}

// -- the job: start, progress, cancel, result ---------------------------------------------------

async function start() {
  const body = {
    area: S.area, target: Number($("#st-target").value), tolerance: Number($("#st-tolerance").value) / 100,
    locked: [...S.locked].sort(),
  };
  if ($("#st-name").value.trim()) body.name = $("#st-name").value.trim();
  $("#st-job").setAttribute("data-state", "");
  document.body.removeAttribute("data-draft");
  try {
    S.job = await api.post("/plans/drafts", body);
  } catch (e) {
    return showJob({ state: "failed", error: e.message, stages: [], stages_all: [] });
  }
  $("#st-start").disabled = true;
  $("#st-cancel").hidden = false;
  poll();
}

async function poll() {
  let job;
  try { job = await api.get(`/plans/jobs/${S.job.id}`); } catch (e) {
    job = { state: "failed", error: e.message, stages: [], stages_all: [] };
  }
  showJob(job);
  if (job.state === "queued" || job.state === "running") { setTimeout(poll, 400); return; }
  $("#st-start").disabled = false;
  $("#st-cancel").hidden = true;
  if (job.state === "done") await showDraft(job);
}

async function cancel() {
  try { showJob(await api.request(`/plans/jobs/${S.job.id}`, { method: "DELETE" })); } catch (e) {
    $("#st-job").insertAdjacentHTML("beforeend", `<p class="st-error">${esc(e.message)}</p>`);
  }
}

function showJob(job) {
  const box = $("#st-job");
  box.setAttribute("data-state", job.state);
  const stages = (job.stages_all || []).map((s) =>
    `<li class="${job.stages.includes(s) ? "st-done" : ""}">${esc(t("stage_" + s))}</li>`).join("");
  const s = job.summary;
  box.innerHTML = `<b>${esc(t("job_" + job.state))}</b><ol class="st-stages">${stages}</ol>` +
    (job.error ? `<p class="st-error">${esc(job.error)}</p>` : "") +
    (s ? `<p>${num(s.cells)} ${esc(t("cells_word"))}, ${esc(t("within_band"))} ${num(s.within)}` +
      (s.moved !== null ? `, ${esc(t("households_moved"))} ${(s.moved * 100).toFixed(1)}%` : "") + `</p>` : "");
}

async function showDraft(job) {
  S.draft = job.plan_id;
  S.changed = null;
  document.body.setAttribute("data-draft", String(job.plan_id));
  $("#st-cap-after").textContent = `${t("draft")} #${job.plan_id}`;
  await Promise.all([drawCells("before", S.active, S.draft), drawCells("after", S.draft, S.active)]);
  S.maps.after.fitBounds(S.layers.before.getBounds());
  S.maps.before.fitBounds(S.layers.before.getBounds());
  $("#st-results").hidden = false;
  const rows = job.summary.table.map((r) => `
    <tr data-cells="${esc(r.cell)}"><td>${esc(r.cell)}</td><td>${num(r.households)}</td><td>${pct(r.deviation)}</td>
    <td>${esc(t(r.within ? "yes" : "no"))}</td><td>${esc(t(r.contiguous ? "yes" : "no"))}</td></tr>`);
  $("#st-table tbody").innerHTML = rows.join("");
  const problems = job.summary.problems;
  $("#st-problems").innerHTML = problems.length ? `<details><summary>${esc(t("problems"))} (${problems.length})</summary>` +
    problems.slice(0, 50).map((p) => `<p class="st-warn">${esc(p.cell || p.village)}: ${esc(p.reason)}</p>`).join("") +
    `</details>` : "";
  const report = await showImpact($("#st-impact .st-body"), S.draft, S.area);
  if (report) {
    S.changed = new Set([...report.cells_added, ...report.cells_removed,
      ...report.moved_by_cell.flatMap((m) => [m.from, m.to])]);
    for (const side of ["before", "after"]) {
      for (const layer of Object.values(S.cells[side])) {
        layer.setStyle(cellStyle(side, layer.feature));
        const el = layer.getElement();
        if (el) el.classList.toggle("st-changed", S.changed.has(layer.feature.properties.code));
      }
    }
    highlight(S.highlighted);
  }
  try {
    await openEdits({ S, cellStyle, syncLock }, S.draft, S.area);
  } catch (e) {
    $("#st-results").insertAdjacentHTML("beforebegin", `<p class="st-error">${esc(e.message)}</p>`);
  }
  document.body.setAttribute("data-compared", String(S.draft));
}

/** A cell locked or unlocked in the draft (edits.js): the next rerun keeps it too, when the
 * plan in force has a cell of that code. */
function syncLock(code, on) {
  if (!S.cells.before[code]) return;
  if (on === S.locked.has(code)) return;
  toggleLock(code);
}

// -- the change-impact report ------------------------------------------------------------------

async function showImpact(box, plan, area) {
  box.innerHTML = `<p>${esc(t("loading"))}</p>`;
  box.setAttribute("data-ready", "");
  let r;
  try { r = await api.get(`/plans/${plan}/impact`, { area }); } catch (e) {
    box.innerHTML = `<p class="st-error">${esc(e.message)}</p>`;
    return null;
  }
  const pairs = r.moved_by_cell.map((p) => `<tr data-cells="${esc(p.from)} ${esc(p.to)}">
    <td>${esc(p.from)}</td><td>${esc(p.to)}</td><td>${num(p.households)}</td><td>${num(p.people)}</td></tr>`).join("");
  const workers = r.grid_workers.map((w) => `<tr data-cells="${esc(w.cell)}"><td>${esc(w.username)}</td>
    <td>${esc(w.cell)}</td><td>${num(w.households_before)}</td><td>${num(w.households_after)}</td></tr>`).join("");
  const visits = r.visits_due_moving_by_cell.map((v) => `<tr data-cells="${esc(v.from)} ${esc(v.to)}">
    <td>${esc(v.from)}</td><td>${esc(v.to)}</td><td>${num(v.households)}</td></tr>`).join("");
  box.innerHTML = `
    <dl class="st-figures">
      <dt>${esc(t("households_moved"))}</dt><dd id="st-households-moved">${num(r.households_moved)} / ${num(r.households)}</dd>
      <dt>${esc(t("people_moved"))}</dt><dd id="st-people-moved">${num(r.people_moved)}</dd>
      <dt>${esc(t("incidents_moving"))}</dt><dd id="st-incidents-moving">${num(r.open_incidents_moving)}</dd>
      <dt>${esc(t("visits_moving"))}</dt><dd id="st-visits-moving">${num(r.visits_due_moving)}</dd>
    </dl>
    <h3>${esc(t("moved_by_cell"))}</h3>
    ${pairs ? `<table class="st-pairs"><thead><tr><th>${esc(t("from_cell"))}</th><th>${esc(t("to_cell"))}</th><th>${esc(t("households"))}</th><th>${esc(t("people_moved"))}</th></tr></thead><tbody>${pairs}</tbody></table>` : `<p>${esc(t("nothing_moves"))}</p>`}
    <h3>${esc(t("caseloads"))}</h3>
    ${workers ? `<table class="st-workers"><thead><tr><th>${esc(t("grid_worker"))}</th><th>${esc(t("cell"))}</th><th>${esc(t("before"))}</th><th>${esc(t("after"))}</th></tr></thead><tbody>${workers}</tbody></table>` : `<p>${esc(t("nothing_moves"))}</p>`}
    <h3>${esc(t("visits_moving"))}</h3>
    ${visits ? `<table class="st-visits"><tbody>${visits}</tbody></table>` : `<p>${esc(t("nothing_moves"))}</p>`}`;
  box.setAttribute("data-ready", "1");
  return r;
}

// -- publishing (city administrators) ----------------------------------------------------------

async function listDrafts() {
  const plans = await api.get("/plans");
  S.active = (plans.find((p) => p.status === "active") || {}).id || null;
  if (S.me.plan_work !== "publish") return;
  const rows = plans.filter((p) => p.status === "draft").map((p) => `
    <tr data-plan="${p.id}"><td>#${p.id}</td><td>${esc(p.name)}</td><td>${num(p.cells)} ${esc(t("cells_word"))}</td>
      <td class="st-prepared">${esc(t(p.prepared_at ? "prepared" : "not_prepared"))}</td>
      <td><button type="button" data-do="impact">${esc(t("show_impact"))}</button>
      <button type="button" data-do="prepare">${esc(t("prepare"))}</button>
      <button type="button" data-do="activate">${esc(t("activate"))}</button></td></tr>`);
  $("#st-drafts tbody").innerHTML = rows.join("");
  markBlocked([...document.querySelectorAll("#st-drafts tr[data-plan]")]).catch(() => {});  // after the list
}

function publishState(state, words) {
  const box = $("#st-publish-state");
  box.setAttribute("data-state", state);
  box.innerHTML = words;
}

async function onPublishClick(ev) {
  const button = ev.target.closest("button[data-do]");
  if (!button) return;
  const id = Number(button.closest("tr").getAttribute("data-plan"));
  const what = button.getAttribute("data-do");
  try {
    if (what === "impact") {
      await showImpact($("#st-publish-impact"), id, "");
    } else if (what === "prepare") {
      publishState("preparing", esc(t("preparing")));
      await api.post(`/plans/${id}/prepare`);
      for (;;) {
        const plan = await api.get(`/plans/${id}`);
        if (plan.prepared_at) break;
        await new Promise((ok) => setTimeout(ok, 500));
      }
      publishState("prepared", `#${id} ${esc(t("prepared"))}`);
      await followPublication(id);
      await listDrafts();
    } else if (what === "activate") {
      publishState("confirm", `${esc(t("confirm_activate"))} (#${id})
        <button type="button" id="st-confirm">${esc(t("confirm"))}</button>
        <button type="button" id="st-no">${esc(t("cancel"))}</button>`);
      $("#st-no").addEventListener("click", () => publishState("", ""));
      $("#st-confirm").addEventListener("click", async () => {
        publishState("activating", esc(t("activating")));
        try {
          const plan = await api.post(`/plans/${id}/activate`);
          publishState("activated", `#${plan.id} ${esc(plan.name)}: ${esc(t("activated"))} (${esc(t(plan.status === "active" ? "active" : plan.status))})`);
          await listDrafts();
          await followPublication(id);
        } catch (e) { publishState("failed", `<span class="st-error">${esc(e.message)}</span>`); }
      });
    }
  } catch (e) {
    publishState("failed", `<span class="st-error">${esc(e.message)}</span>`);
  }
}

// The stages of a publication — prepare, switch, the registry following — with counts, read
// from GET /plans/{id}/publication every second until the catch-up is done.
async function followPublication(id) {
  let box = document.getElementById("st-publication");
  if (!box) {
    box = document.createElement("div");
    box.id = "st-publication";
    $("#st-publish-state").after(box);
  }
  const at = (iso) => (iso ? new Date(iso).toLocaleTimeString() : "");
  for (;;) {
    const p = await api.get(`/plans/${id}/publication`);
    const switched = Boolean(p.switched_at);
    const stage = (name, state, words) => `<li data-stage="${name}" data-state="${state}">
      <b>${esc(t(`pub_${name}`))}</b> ${esc(t(`pub_${state}`))} ${words}</li>`;
    const tables = Object.entries(p.tables || {}).map(([name, c]) => `<tr data-table="${esc(name)}">
      <td>${esc(t(`pub_${name}`))}</td><td>${num(c.done)} / ${num(c.todo)}</td>
      <td>${num(c.rows)} ${esc(t("pub_rows"))}</td></tr>`).join("");
    box.setAttribute("data-stage", p.stage);
    box.innerHTML = `<ol class="st-stages">
      ${stage("prepare", p.prepared_at ? "done" : "waiting", esc(at(p.prepared_at)))}
      ${stage("switch", switched ? "done" : "waiting", switched ? `${esc(at(p.switched_at))}${p.rechecked ? ` · ${num(p.rechecked)} ${esc(t("pub_rechecked"))}` : ""}` : "")}
      ${stage("follow", p.stage === "done" ? "done" : (p.stage === "follow" ? "running" : "waiting"), esc(at(p.finished_at)))}
      </ol>${tables ? `<table class="st-table"><tbody>${tables}</tbody></table>` : ""}
      ${p.outside ? `<p>${num(p.outside)} ${esc(t("pub_outside"))}</p>` : ""}`;
    if (p.stage !== "follow") return p;
    await new Promise((ok) => setTimeout(ok, 1000));
  }
}

// -- start -------------------------------------------------------------------------------------

async function main() {
  await labels.load(cfg.lang, cfg.labels);
  if (labels.followRemembered(cfg.lang)) return;
  document.title = t("studio_title");
  if (!api.token()) return signInForm();
  try { S.me = await api.get("/auth/me"); } catch (e) { return signInForm(); }
  document.addEventListener("gridmap:signed-out", () => signInForm());
  build();
  document.body.setAttribute("data-plan-work", S.me.plan_work);
  if (S.me.plan_work !== "prepare" && S.me.plan_work !== "publish") return;
  await listDrafts();
  $("#st-drafts").addEventListener("click", onPublishClick);
  document.getElementById("st-results").addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr[data-cells]");
    if (tr) highlight(tr.getAttribute("data-cells").split(" "));
  });
  const me = await api.get(`/areas/${S.me.area_code}`);
  const counties = me.level === "county" ? [me] : me.children;
  fill($("#st-county"), counties, true);
  document.body.setAttribute("data-ready", "1");
}

main().catch((e) => {
  const p = document.createElement("p");
  p.className = "st-error";
  p.textContent = e.message;
  document.getElementById("studio").appendChild(p);
});
