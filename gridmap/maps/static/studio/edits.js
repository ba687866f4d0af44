/* Hand edits in the planner's studio: the draft's blocks drawn thin inside its cells on the
 * draft map; click a block, then a block of a neighbouring cell (or pick the cell in "move
 * to") and the block moves. The answer of POST /plans/{id}/edits carries both cells' new
 * figures, outline and problems: the deviation table, the two cells and the problems list
 * are redrawn from it at once (nothing else is fetched before the map is drawn). Undo and
 * redo (buttons, Ctrl+Z / Ctrl+Y), lock toggles, the edit log, and the prepare button
 * disabled with the reason while a cell breaks a rule — the server refuses it too
 * (gridmap/plans/checks.py), the page only says so first.
 *
 * Every rule is the server's: which cells touch, what is in the band, what blocks
 * publishing. The page keeps the last answer per cell and draws it.
 */
import * as api from "../shell/api.js";
import * as labels from "../shell/labels.js";

const { t } = labels;
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const $ = (sel, root = document) => root.querySelector(sel);
const pct = (x) => (x === null || x === undefined ? "" : `${x > 0 ? "+" : ""}${(x * 100).toFixed(1)}%`);
const num = (n) => Number(n || 0).toLocaleString(labels.lang() === "en" ? "en" : "zh-CN");
const village = (code) => String(code).slice(0, 12);

const BLOCK = { color: "#475569", weight: 0.6, opacity: 0.9, fillOpacity: 0, fill: true, className: "st-block" };
const PICKED = { color: "#db2777", weight: 3, opacity: 1, fillColor: "#db2777", fillOpacity: 0.35 };

/** The studio's edit state: one draft at a time. */
const E = {
  host: null, plan: null, area: null, rule: null, rows: {}, cellOf: {}, blocks: {}, layer: null,
  picked: null, locked: new Set(), canUndo: false, canRedo: false, timings: [], busy: false,
};

/**
 * Open the hand edits of ``plan`` in ``area`` on the draft map.
 *
 * ``host``: what main.js shares — its state (``S``: maps, cell layers, changed set), the
 * cell style and the lock sync (``syncLock(code, on)``: the rerun's locked set).
 */
export async function openEdits(host, plan, area) {
  Object.assign(E, { host, plan, area, rows: {}, cellOf: {}, blocks: {}, picked: null, timings: [] });
  panel();
  const state = await api.get(`/plans/${plan}/blocks`, { area });
  E.rule = { target: state.target, tolerance: state.tolerance };
  E.locked = new Set(state.locked);
  for (const code of E.locked) host.syncLock(code, true);
  for (const row of state.cells) E.rows[row.cell] = row;
  drawBlocks(state.blocks);
  setUndo(state.can_undo, state.can_redo);
  renderTable();
  renderProblems();
  await renderLog();
  document.body.setAttribute("data-edits-ready", String(plan));
  window.gridmapStudio.edits = { state: E, pick, moveTo, undo, redo, toggleLock };
}

// -- the panel -----------------------------------------------------------------------------------

function panel() {
  let box = $("#st-edits");
  if (!box) {
    box = document.createElement("section");
    box.id = "st-edits";
    box.className = "st-card";
    $("#st-results").insertAdjacentElement("beforebegin", box);
  }
  box.innerHTML = `
    <h2>${esc(t("hand_edits"))} <small>${esc(t("hand_edits_hint"))}</small></h2>
    <div class="st-row">
      <button type="button" id="st-undo" disabled title="Ctrl+Z">${esc(t("undo"))}</button>
      <button type="button" id="st-redo" disabled title="Ctrl+Y">${esc(t("redo"))}</button>
      <span id="st-picked">${esc(t("pick_block"))}</span>
      <label>${esc(t("move_to"))} <select id="st-move-to" disabled></select></label>
      <button type="button" id="st-move" disabled>${esc(t("move"))}</button>
      <button type="button" id="st-lock-toggle" disabled></button>
    </div>
    <div class="st-row"><span>${esc(t("locked_in_draft"))}:</span> <span id="st-draft-locked"></span></div>
    <div id="st-edit-error" class="st-error" role="alert"></div>
    <div class="st-edit-grid">
      <div><h3>${esc(t("problems"))}</h3><ul id="st-edit-problems"></ul>
        <p><button type="button" id="st-prepare-draft" disabled>${esc(t("prepare"))}</button>
        <span id="st-prepare-why"></span></p></div>
      <div><h3>${esc(t("edit_log"))}</h3><table id="st-edit-log"><tbody></tbody></table></div>
    </div>`;
  $("#st-undo").addEventListener("click", () => undo());
  $("#st-redo").addEventListener("click", () => redo());
  $("#st-move").addEventListener("click", () => E.picked && moveTo($("#st-move-to").value));
  $("#st-lock-toggle").addEventListener("click", () => E.picked && toggleLock(E.cellOf[E.picked]));
  $("#st-prepare-draft").addEventListener("click", prepare);
  if (!E.keys) {
    E.keys = true;
    document.addEventListener("keydown", (ev) => {
      if (!E.plan || !(ev.ctrlKey || ev.metaKey) || /INPUT|SELECT|TEXTAREA/.test(ev.target.tagName)) return;
      const key = ev.key.toLowerCase();
      if (key === "z" && !ev.shiftKey) { ev.preventDefault(); undo(); }
      else if (key === "y" || (key === "z" && ev.shiftKey)) { ev.preventDefault(); redo(); }
    });
  }
}

// -- the blocks on the draft map ---------------------------------------------------------------

function drawBlocks(fc) {
  const map = E.host.S.maps.after;
  if (E.layer) E.layer.remove();
  E.layer = L.geoJSON(fc, {
    style: () => BLOCK,
    onEachFeature: (f, layer) => {
      const id = f.properties.block;
      E.blocks[id] = layer;
      E.cellOf[id] = f.properties.cell;
      layer.on("click", (ev) => { L.DomEvent.stopPropagation(ev); clickBlock(id); });
      layer.on("add", () => layer.getElement() && layer.getElement().setAttribute("data-block", id));
    },
  }).addTo(map);
  for (const [id, layer] of Object.entries(E.blocks)) {
    const el = layer.getElement();
    if (el) el.setAttribute("data-block", id);
  }
  map.getContainer().setAttribute("data-blocks", String(fc.features.length));
}

/** A block clicked: pick it; with one picked, a block of another cell moves it there. */
function clickBlock(id) {
  const started = performance.now();
  if (E.picked && E.picked !== id && E.cellOf[id] !== E.cellOf[E.picked]) {
    return moveTo(E.cellOf[id], started);
  }
  pick(E.picked === id ? null : id);
}

function pick(id) {
  if (E.picked && E.blocks[E.picked]) E.blocks[E.picked].setStyle(BLOCK);
  E.picked = id;
  const select = $("#st-move-to");
  if (!id) {
    $("#st-picked").textContent = t("pick_block");
    select.innerHTML = "";
    for (const b of ["#st-move-to", "#st-move", "#st-lock-toggle"]) $(b).disabled = true;
    $("#st-lock-toggle").textContent = "";
    return;
  }
  E.blocks[id].setStyle(PICKED);
  E.blocks[id].bringToFront();
  const cell = E.cellOf[id];
  const households = E.blocks[id].feature.properties.households;
  $("#st-picked").innerHTML = `${esc(t("block"))} <b>${esc(id)}</b> (${num(households)} ${esc(t("households_word"))}) · ${esc(t("cell"))} <b>${esc(cell)}</b>`;
  const others = Object.keys(E.rows).filter((c) => c !== cell && village(c) === village(cell)).sort();
  select.innerHTML = others.map((c) => `<option value="${esc(c)}">${esc(c)}</option>`).join("");
  select.disabled = $("#st-move").disabled = others.length === 0;
  $("#st-lock-toggle").disabled = false;
  $("#st-lock-toggle").textContent = t(E.locked.has(cell) ? "unlock_cell" : "lock_cell");
}

// -- edits: move, undo, redo, lock ---------------------------------------------------------------

async function send(path, body, started) {
  if (E.busy) return null;
  E.busy = true;
  const t0 = started ?? performance.now();
  $("#st-edit-error").textContent = "";
  try {
    const answer = await api.post(`/plans/${E.plan}${path}`, body);
    const t1 = performance.now();
    apply(answer);
    const t2 = performance.now();
    await new Promise((ok) => requestAnimationFrame(() => ok()));  // drawn
    const ms = performance.now() - t0;
    // where the time went: answered, applied, drawn (the benchmark prints them)
    document.body.setAttribute("data-edit-parts", [t1 - t0, t2 - t1, performance.now() - t2].map((x) => x.toFixed(1)).join(" "));
    E.timings.push(ms);
    document.body.setAttribute("data-edit-ms", ms.toFixed(1));
    document.body.setAttribute("data-edits-done", String(E.timings.length));
    renderLog();  // after the figure: the log is not part of "drawn"
    return answer;
  } catch (e) {
    $("#st-edit-error").textContent = e.message;
    document.body.setAttribute("data-edit-refused", String(Date.now()));
    return null;
  } finally {
    E.busy = false;
  }
}

function moveTo(cell, started) {
  const block = E.picked;
  if (!block || !cell) return null;
  return send("/edits", { block, to_cell: cell }, started);
}

const undo = () => (E.canUndo ? send("/edits/undo") : null);
const redo = () => (E.canRedo ? send("/edits/redo") : null);

async function toggleLock(cell) {
  const on = !E.locked.has(cell);
  $("#st-edit-error").textContent = "";
  try {
    const r = await api.request(`/plans/${E.plan}/locks/${cell}`, { method: on ? "PUT" : "DELETE" });
    E.locked = new Set(r.locked_cells);
    E.host.syncLock(cell, on);
    restyleCell(cell);
    renderLocked();
    if (E.picked) pick(E.picked);
    renderLog();
  } catch (e) {
    $("#st-edit-error").textContent = e.message;
  }
}

/** Draw an answer: the block's new cell, both cells' outline and colour, table, problems. */
function apply(answer) {
  for (const [block, cell] of Object.entries(answer.block_cell)) {
    E.cellOf[block] = cell;
    if (E.blocks[block]) E.blocks[block].feature.properties.cell = cell;
  }
  const S = E.host.S;
  for (const row of answer.cells) {
    E.rows[row.cell] = row;
    if (S.changed) S.changed.add(row.cell);
    const old = S.cells.after[row.cell];
    if (old) {
      const feature = {
        type: "Feature", geometry: row.geometry,
        properties: Object.assign({}, old.feature.properties, {
          households: row.households, deviation: row.deviation, _color: row._color,
        }),
      };
      S.layers.after.removeLayer(old);
      S.layers.after.addData(feature);
      restyleCell(row.cell);
      // under the blocks again: one path moved, not the thousands of blocks brought up
      if (S.cells.after[row.cell]) S.cells.after[row.cell].bringToBack();
    }
  }
  if (E.picked) pick(E.picked);
  setUndo(answer.can_undo, answer.can_redo);
  renderTable(answer.cells.map((r) => r.cell));
  renderProblems();
}

function restyleCell(code) {
  const S = E.host.S;
  const layer = S.cells.after[code];
  if (!layer) return;
  layer.setStyle(E.host.cellStyle("after", layer.feature));
  const el = layer.getElement();
  if (el) {
    el.classList.toggle("st-changed", !!(S.changed && S.changed.has(code)));
    el.classList.toggle("st-locked", E.locked.has(code));
    el.setAttribute("data-cell", code);
  }
  if (E.locked.has(code)) layer.setStyle({ color: "#7c3aed", weight: 4, dashArray: null });
}

function setUndo(canUndo, canRedo) {
  E.canUndo = canUndo;
  E.canRedo = canRedo;
  $("#st-undo").disabled = !canUndo;
  $("#st-redo").disabled = !canRedo;
}

// -- the deviation table, problems, locks, log ---------------------------------------------------

function renderTable(changed = []) {
  const rows = Object.values(E.rows).sort((a, b) => (a.cell < b.cell ? -1 : 1)).map((r) => `
    <tr data-cells="${esc(r.cell)}" data-households="${r.households}" class="${r.problems.length ? "st-bad" : ""}${changed.includes(r.cell) ? " st-just" : ""}">
    <td>${esc(r.cell)}</td><td>${num(r.households)}</td><td>${pct(r.deviation)}</td>
    <td>${esc(t(r.within ? "yes" : "no"))}</td><td>${esc(t(r.contiguous ? "yes" : "no"))}</td></tr>`);
  $("#st-table tbody").innerHTML = rows.join("");
  for (const code of E.locked) restyleCell(code);
  renderLocked();
}

function problemWords(row, p) {
  if (p.rule === "balance") {
    return `${t("rule_balance")}: ${num(row.households)} ${t("households_word")}, ${pct(row.deviation)}` +
      (p.blocking ? "" : ` (${t("not_blocking")})`);
  }
  return t("rule_" + p.rule);
}

function renderProblems() {
  const items = [];
  let blocking = 0;
  for (const row of Object.values(E.rows).sort((a, b) => (a.cell < b.cell ? -1 : 1))) {
    for (const p of row.problems) {
      if (p.blocking) blocking += 1;
      items.push(`<li data-cell="${esc(row.cell)}" data-rule="${esc(p.rule)}" data-blocking="${p.blocking ? 1 : 0}" title="${esc(p.reason)}">
        <b>${esc(row.cell)}</b> ${esc(problemWords(row, p))}</li>`);
    }
  }
  $("#st-edit-problems").innerHTML = items.join("") || `<li class="st-ok">${esc(t("no_problems"))}</li>`;
  const button = $("#st-prepare-draft");
  button.disabled = blocking > 0;
  $("#st-prepare-why").textContent = blocking > 0 ? `${t("publish_blocked")} (${blocking})` : "";
  document.body.setAttribute("data-problems", String(blocking));
}

function renderLocked() {
  $("#st-draft-locked").innerHTML = [...E.locked].sort().map((c) => `<code>${esc(c)}</code>`).join(" ");
}

async function renderLog() {
  let log;
  try { log = await api.get(`/plans/${E.plan}/edits`); } catch (e) { return; }
  const when = (s) => new Date(s).toLocaleString(labels.lang() === "en" ? "en" : "zh-CN");
  const what = (e) => (e.kind === "move"
    ? `${t("block")} ${e.block}: ${e.from_cell} → ${e.to_cell}`
    : `${t(e.kind === "lock" ? "lock_cell" : "unlock_cell")} ${e.from_cell}`);
  $("#st-edit-log tbody").innerHTML = log.slice().reverse().map((e) => `
    <tr data-edit="${e.id}" data-state="${esc(e.state)}" class="st-edit-${esc(e.state)}">
    <td>${esc(when(e.created_at))}</td><td>${esc(e.username)}</td><td>${esc(what(e))}</td>
    <td>${e.state === "done" ? "" : esc(t("edit_" + e.state))}</td></tr>`).join("");
  document.body.setAttribute("data-edit-log", String(log.length));
}

async function prepare() {
  const button = $("#st-prepare-draft");
  button.disabled = true;
  try {
    await api.post(`/plans/${E.plan}/prepare`);
    $("#st-prepare-why").textContent = t("preparing");
  } catch (e) {
    $("#st-prepare-why").textContent = e.message;  // the server's refusal, in its words
  }
}

/** The city admin's list of drafts: prepare and activate disabled, with the reason, for a
 * draft a cell of which breaks a rule (the server refuses them too). */
export async function markBlocked(rows) {
  for (const tr of rows) {
    const id = tr.getAttribute("data-plan");
    let problems;
    try { problems = await api.get(`/plans/${id}/problems`); } catch (e) { continue; }
    const blocking = problems.filter((p) => p.blocking);
    if (!blocking.length) continue;
    for (const b of tr.querySelectorAll("button[data-do='prepare'], button[data-do='activate']")) b.disabled = true;
    const why = blocking.slice(0, 3).map((p) => `${p.cell} ${t("rule_" + p.rule)}`).join("; ");
    tr.insertAdjacentHTML("beforeend", `<td class="st-blocked" title="${esc(blocking.map((p) => p.reason).join("\n"))}">${esc(t("publish_blocked"))}: ${esc(why)}</td>`);
  }
}
