/* gridmap map pages: the dispatcher's map, the grid worker's cell, plans compared.
 *
 * Started by the page (gridmap/maps/pages.py) with the folium map and a configuration:
 * the layer declarations of layers/ (titles, styles, legends, popups, zoom ranges), the
 * labels in the page's language, and where the data comes from — the API (signed in with a
 * bearer token kept in sessionStorage) or, in an exported file, a snapshot inside the page.
 * Colours come with the data (each feature's _color, from the layer's declared style), so
 * no styling rule is written here a second time.
 *
 * Everything the page shows follows the URL: view, filters and visible layers, so a view can
 * be shared. The data is reloaded when the view or a filter changes and every few seconds,
 * without moving the map. <body data-gm-busy> counts requests in flight (tests wait for 0).
 */
(function () {
  "use strict";

  var G = (window.GridmapMap = {});
  var TOKEN_KEY = "gridmap.token";
  // the workbench's search and flags (static/workbench) are filters of the same one set
  var FILTERS = ["category", "channel", "unit", "area", "overdue", "since", "until", "q", "phone_suffix",
    "queue", "supervised", "joint", "whistle", "fast_track", "due_within_days"];

  G.start = function (map, cfg) {
    var app = new App(map, cfg);
    window.gridmapApp = app;
    app.init();
    return app;
  };

  function esc(value) {
    return String(value === null || value === undefined ? "" : value).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function el(tag, attrs, html) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (html !== undefined) node.innerHTML = html;
    return node;
  }

  function fmtTime(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    // China time, as the centres read it
    var local = new Date(d.getTime() + (8 * 60 + d.getTimezoneOffset()) * 60000);
    var p = function (n) { return (n < 10 ? "0" : "") + n; };
    return local.getFullYear() + "-" + p(local.getMonth() + 1) + "-" + p(local.getDate()) + " " +
      p(local.getHours()) + ":" + p(local.getMinutes());
  }

  function App(map, cfg) {
    this.map = map;
    this.cfg = cfg;
    this.t = cfg.labels;
    this.layers = {};
    this.groups = {};
    this.visible = {};
    this.busy = 0;
    this.loadSeq = {};
    this.lastData = {};
    this.state = { filters: {}, statuses: [] };
  }

  App.prototype.init = function () {
    var self = this;
    document.body.setAttribute("data-gm-busy", "0");
    document.body.classList.add("gm-mode-" + this.cfg.mode);
    this.cfg.layers.forEach(function (d) { self.layers[d.id] = d; });
    this.readUrl();
    this.buildPanel();
    this.buildLayers();
    this.buildLegend();
    if (this.cfg.api && !this.token()) {
      this.showSignIn();
      return;
    }
    this.begin();
  };

  App.prototype.begin = function () {
    var self = this;
    this.renderUser();
    this.started = true;
    document.dispatchEvent(new CustomEvent("gridmap:begin"));
    if (this.cfg.mode === "grid") return this.beginGrid();
    if (this.cfg.mode === "plan") return this.beginPlan();
    this.map.on("moveend", function () { self.writeUrl(); self.reloadLayers(); });
    var bbox = (this.cfg.data || {}).bbox;
    if (!this.cfg.api && bbox && !this.urlHadView) this.map.fitBounds([[bbox[1], bbox[0]], [bbox[3], bbox[2]]]);
    this.reloadAll();
    if (this.cfg.api && this.refresh > 0) {
      this.timer = setInterval(function () { self.reloadAll(true); }, this.refresh * 1000);
    }
  };

  // -- the API, or the snapshot of an exported page --------------------------------------------

  App.prototype.token = function () {
    try { return window.sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
  };

  App.prototype.get = function (path, params) {
    var self = this;
    if (!this.cfg.api) return Promise.resolve(this.fromSnapshot(path, params));
    var query = new URLSearchParams();
    Object.keys(params || {}).forEach(function (k) {
      var v = params[k];
      if (v === null || v === undefined || v === "" || v === false) return;
      if (Array.isArray(v)) v.forEach(function (x) { query.append(k, x); });
      else query.append(k, v);
    });
    var url = this.cfg.api + path + (query.toString() ? "?" + query.toString() : "");
    this.setBusy(1);
    return fetch(url, { headers: { Authorization: "Bearer " + this.token() } })
      .then(function (r) {
        if (r.status === 401) { self.signOut(); throw new Error("signed out"); }
        return r.json().then(function (body) {
          if (!r.ok) { var e = new Error(body.detail || r.statusText); e.status = r.status; throw e; }
          return body;
        });
      })
      .finally(function () { self.setBusy(-1); });
  };

  App.prototype.fromSnapshot = function (path, params) {
    var data = this.cfg.data || {};
    var m = path.match(/^\/layers\/([a-z_]+)\/features$/);
    if (m) {
      var byLevel = (data.layers || {})[m[1]] || {};
      var layer = this.layers[m[1]];
      var key = "all";
      if (layer && layer.aggregation) key = levelAt(layer.aggregation, params.zoom) || "points";
      if (!byLevel[key] && key === "points") key = "grid";
      return byLevel[key] || byLevel.all || { type: "FeatureCollection", features: [] };
    }
    if (path === "/layers/plan_cells/features") return (data.plans || {})[String(params.plan)] || null;
    if (path === "/incidents") path += "?sort=" + params.sort;
    return (data.other || {})[path] || null;
  };

  function levelAt(steps, zoom) {
    var chosen = steps[0][1];
    steps.forEach(function (s) { if (zoom >= s[0]) chosen = s[1]; });
    return chosen;
  }

  App.prototype.setBusy = function (d) {
    this.busy += d;
    document.body.setAttribute("data-gm-busy", String(this.busy));
  };

  // -- sign-in -------------------------------------------------------------------------------------

  App.prototype.showSignIn = function (failed) {
    var self = this, t = this.t;
    var box = document.getElementById("gm-signin");
    if (!box) {
      box = el("div", { id: "gm-signin", class: "gm-overlay" });
      box.innerHTML =
        '<form class="gm-signin-form"><h2>' + esc(this.cfg.title) + "</h2>" +
        '<label>' + esc(t.username) + '<input name="username" autocomplete="username" required></label>' +
        '<label>' + esc(t.password) + '<input name="password" type="password" autocomplete="current-password" required></label>' +
        '<p class="gm-error" hidden></p><button type="submit">' + esc(t.sign_in) + "</button></form>";
      document.body.appendChild(box);
      box.querySelector("form").addEventListener("submit", function (ev) {
        ev.preventDefault();
        var form = new URLSearchParams(new FormData(ev.target));
        fetch(self.cfg.api + "/auth/token", { method: "POST", body: form })
          .then(function (r) { return r.json().then(function (b) { return [r, b]; }); })
          .then(function (rb) {
            if (!rb[0].ok) return self.showSignIn(rb[1].detail || t.sign_in_failed);
            window.sessionStorage.setItem(TOKEN_KEY, rb[1].access_token);
            box.remove();
            self.begin();
          });
      });
    }
    var err = box.querySelector(".gm-error");
    err.hidden = !failed;
    err.textContent = failed || "";
  };

  App.prototype.signOut = function () {
    try { window.sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* private mode */ }
    if (this.timer) clearInterval(this.timer);
    this.showSignIn();
  };

  App.prototype.renderUser = function () {
    var self = this, box = document.getElementById("gm-user");
    if (!box) return;
    if (!this.cfg.api) { box.textContent = this.cfg.user || ""; return; }
    this.get("/auth/me").then(function (me) {
      self.me = me;
      var place = (self.cfg.lang === "en" && me.area_name_en) || me.area_name || me.area_code;
      box.innerHTML = esc(self.t.signed_in_as) + " <b>" + esc(me.username) + '</b> (<span class="gm-area" title="' +
        esc(me.area_code) + '">' + esc(place) + '</span>) <button type="button" class="gm-link" id="gm-signout">' + esc(self.t.sign_out) + "</button>";
      document.getElementById("gm-signout").onclick = function () { self.signOut(); };
      if (!self.urlHadView && self.cfg.mode === "dispatch") self.zoomToArea(me.area_code);
    }).catch(function () {});
  };

  App.prototype.zoomToArea = function (code) {
    var self = this;
    var level = code.length === 6 ? (code.slice(4) === "00" ? null : "counties") :
      { 9: "townships", 12: "villages", 15: "grids" }[code.length];
    if (!level) return;
    this.get("/layers/" + level + "/features", { area: code, zoom: 12 }).then(function (fc) {
      var mine = fc.features.filter(function (f) { return f.properties.code === code; });
      if (mine.length) self.map.fitBounds(L.geoJSON(mine[0]).getBounds(), { padding: [10, 10] });
    }).catch(function () {});
  };

  // -- URL state -----------------------------------------------------------------------------------

  App.prototype.readUrl = function () {
    var q = new URLSearchParams(window.location.search);
    var self = this;
    FILTERS.forEach(function (k) { if (q.get(k)) self.state.filters[k] = q.get(k); });
    this.state.statuses = q.getAll("status");
    this.state.showClosed = q.get("closed") === "1";
    if (q.get("layers")) q.get("layers").split(",").forEach(function (id) { self.visible[id] = true; });
    else this.cfg.layers.forEach(function (d) { if (d.shown) self.visible[d.id] = true; });
    this.refresh = parseInt(q.get("refresh") || this.cfg.refresh, 10);
    if (q.get("lat") && q.get("lon")) {
      this.map.setView([parseFloat(q.get("lat")), parseFloat(q.get("lon"))], parseInt(q.get("z") || "12", 10));
      this.urlHadView = true;
    }
  };

  App.prototype.writeUrl = function () {
    if (this.cfg.mode !== "dispatch") return;
    var q = new URLSearchParams(window.location.search), c = this.map.getCenter(), self = this;
    q.set("lat", c.lat.toFixed(5)); q.set("lon", c.lng.toFixed(5)); q.set("z", this.map.getZoom());
    FILTERS.forEach(function (k) { if (self.state.filters[k]) q.set(k, self.state.filters[k]); else q.delete(k); });
    q.delete("status");
    this.state.statuses.forEach(function (s) { q.append("status", s); });
    if (this.state.showClosed) q.set("closed", "1"); else q.delete("closed");
    q.set("layers", Object.keys(this.visible).filter(function (k) { return self.visible[k]; }).join(","));
    window.history.replaceState(null, "", window.location.pathname + "?" + q.toString());
  };

  App.prototype.params = function (extra) {
    var p = {}, f = this.state.filters;
    FILTERS.forEach(function (k) { if (f[k]) p[k] = f[k]; });
    if (this.state.statuses.length) p.status = this.state.statuses.slice();
    if (p.since) p.since = p.since + "T00:00:00+08:00";
    if (p.until) p.until = p.until + "T00:00:00+08:00";
    if (p.overdue) p.overdue = "true";
    if (this.cfg.lang) p.lang = this.cfg.lang;
    if (this.cfg.display_crs && this.cfg.display_crs !== "wgs84") p.display_crs = this.cfg.display_crs;
    return Object.assign(p, extra || {});
  };

  App.prototype.bbox = function () {
    var b = this.map.getBounds();
    var clamp = function (v, lim) { return Math.max(-lim, Math.min(lim, v)).toFixed(6); };
    return [clamp(b.getWest(), 180), clamp(b.getSouth(), 90), clamp(b.getEast(), 180), clamp(b.getNorth(), 90)].join(",");
  };

  // -- layers ---------------------------------------------------------------------------------------

  // Stacking: outlines at the bottom, then plans, registry, heat, incidents on top. Each
  // pane has its own canvas, so a layer loaded later never covers one meant to be above it.
  var PANES = { areas: 410, plan_cells: 415, table: 420, heat: 425, incidents: 440 };

  App.prototype.pane = function (source) {
    var name = "gm-" + source;
    if (!this.map.getPane(name)) {
      this.map.createPane(name).style.zIndex = PANES[source] || 430;
      this.renderers = this.renderers || {};
      this.renderers[name] = L.canvas({ pane: name });
    }
    return { pane: name, renderer: this.renderers[name] };
  };

  App.prototype.labelPane = function () {
    if (!this.map.getPane("gm-labels")) this.map.createPane("gm-labels").style.zIndex = 590;
    return "gm-labels";
  };

  App.prototype.buildLayers = function () {
    var self = this, overlays = {};
    this.cfg.layers.forEach(function (d) {
      if ((self.cfg.mode === "plan") !== (d.source === "plan_cells")) return;
      var group = L.layerGroup();
      group.gmId = d.id;
      self.groups[d.id] = group;
      overlays[esc(d.title)] = group;
      if (self.visible[d.id]) group.addTo(self.map);
    });
    this.control = L.control.layers(null, overlays, { collapsed: window.innerWidth < 700 }).addTo(this.map);
    this.map.on("overlayadd overlayremove", function (ev) {
      self.visible[ev.layer.gmId] = ev.type === "overlayadd";
      self.writeUrl();
      self.buildLegend();
      if (ev.type === "overlayadd") self.load(ev.layer.gmId);
    });
  };

  // Sources whose features depend on the filters: after the first draw, a filter change or a
  // refresh reloads only these (outlines and registry tables change with the view alone).
  var FILTERED = { incidents: true, heat: true };

  App.prototype.reloadAll = function (quiet) {
    this.reloadLayers(this.drawnOnce);
    this.drawnOnce = true;
    // a served page has the workbench's queue; an exported one its two fixed lists
    if (this.cfg.mode === "dispatch") { this.loadFacets(); if (!this.cfg.api) this.loadLists(); }
    this.stamp(quiet);
  };

  App.prototype.reloadLayers = function (filteredOnly) {
    var self = this;
    Object.keys(this.groups).forEach(function (id) {
      var fixed = filteredOnly && !FILTERED[self.layers[id].source] && self.lastData[id];
      if (self.visible[id] && !fixed) self.load(id);
    });
  };

  App.prototype.load = function (id, extra) {
    var self = this, d = this.layers[id], zoom = this.map.getZoom();
    var group = this.groups[id];
    if (zoom < d.min_zoom || zoom > d.max_zoom) { group.clearLayers(); return Promise.resolve(); }
    var seq = (this.loadSeq[id] = (this.loadSeq[id] || 0) + 1);
    var params = this.params(Object.assign({ bbox: this.bbox(), zoom: zoom }, extra || {}));
    if (this.hidesClosed(d, zoom) && !params.status) {
      var finals = this.cfg.final_states || [];
      params.status = Object.keys(this.t.statuses).filter(function (s) { return finals.indexOf(s) < 0; });
    }
    return this.get("/layers/" + id + "/features", params).then(function (fc) {
      if (seq !== self.loadSeq[id]) return;  // a newer view has been asked for
      self.lastData[id] = fc;
      group.clearLayers();
      self.draw(d, fc, group);
      self.summarise();
      document.dispatchEvent(new CustomEvent("gridmap:loaded", { detail: { layer: id, level: fc.level } }));
    }).catch(function (e) { if (e.message !== "signed out") self.toast(e.message); });
  };

  // At point zoom closed incidents outnumber open ones ~10 to 1: they stay off unless a state
  // filter or the legend's "show closed" asks for them (counts further out include them).
  App.prototype.hidesClosed = function (d, zoom) {
    return d.source === "incidents" && !!d.aggregation && !levelAt(d.aggregation, zoom) && this.closedOff();
  };
  App.prototype.closedOff = function () {
    return !this.state.statuses.length && !this.state.showClosed && this.cfg.mode === "dispatch";
  };

  // Screen-space placement: a name or badge is drawn only where it covers none placed before
  // it (the most important first), so nothing piles up at any zoom.
  function Placer(map) { this.map = map; this.boxes = []; }
  Placer.prototype.take = function (latlng, w, h, dy) {
    var p = this.map.latLngToContainerPoint(latlng);
    var b = { x0: p.x - w / 2, y0: p.y + (dy || 0) - h / 2, x1: p.x + w / 2, y1: p.y + (dy || 0) + h / 2 };
    for (var i = 0; i < this.boxes.length; i++) {
      var o = this.boxes[i];
      if (b.x0 < o.x1 && o.x0 < b.x1 && b.y0 < o.y1 && o.y0 < b.y1) return false;
    }
    this.boxes.push(b);
    return true;
  };
  // a name's width in pixels at the labels' 12px bold: Chinese characters are about square
  function textWidth(text) {
    var w = 8;
    for (var i = 0; i < text.length; i++) w += text.charCodeAt(i) > 0x2e80 ? 13 : 7.5;
    return w;
  }
  // the area on screen is wide and tall enough to hold a name of that width
  App.prototype.fits = function (layer, w) {
    var b = layer.getBounds(), ne = this.map.latLngToContainerPoint(b.getNorthEast());
    var sw = this.map.latLngToContainerPoint(b.getSouthWest());
    return Math.abs(ne.x - sw.x) >= w && Math.abs(sw.y - ne.y) >= 18;
  };
  App.prototype.label = function (layer, name, placer) {
    var w = textWidth(name);
    if (!this.fits(layer, w) || !placer.take(layer.getBounds().getCenter(), w, 16, -16)) return;
    // names under the count badges (their own pane, below the markers), a little above them
    layer.bindTooltip(esc(name), {
      permanent: true, direction: "center", className: "gm-label", pane: this.labelPane(), offset: [0, -16],
    });
  };

  App.prototype.draw = function (d, fc, group) {
    if (d.source === "heat") return this.drawHeat(fc, group);
    if (d.source === "incidents" && fc.level !== "points") return this.drawCounts(d, fc, group);
    if (d.geometry === "point") return this.drawPoints(d, fc, group);
    return this.drawAreas(d, fc, group);
  };

  App.prototype.popup = function (d, p) {
    var t = this.t, rows = d.popup.map(function (f) {
      var v = p[f.name];
      if (f.kind === "datetime") v = fmtTime(v);
      else if (f.kind === "status") v = (t.statuses || {})[v] || v;
      else if (f.kind === "percent" && v !== null && v !== undefined) v = (v > 0 ? "+" : "") + (100 * v).toFixed(1) + "%";
      else if (f.kind === "link") return '<tr><th>' + esc(f.label) + '</th><td><a href="#" class="gm-open" data-code="' +
        esc(v) + '">' + esc(v) + "</a></td></tr>";
      return "<tr><th>" + esc(f.label) + "</th><td>" + esc(v) + "</td></tr>";
    });
    var html = '<div class="gm-popup"><b>' + esc(d.title) + "</b><table>" + rows.join("") + "</table>";
    if (d.source === "incidents" && this.cfg.api) {
      html += '<a href="#" class="gm-open" data-code="' + esc(p.code) + '">' + esc(t.history) + " »</a>";
    }
    return html + "</div>";
  };

  App.prototype.bindPopup = function (layer, html) {
    var self = this;
    layer.bindPopup(html, { maxWidth: 320 });
    layer.on("popupopen", function (ev) {
      var links = ev.popup.getElement().querySelectorAll(".gm-open");
      Array.prototype.forEach.call(links, function (a) {
        a.onclick = function (e) { e.preventDefault(); self.showIncident(a.getAttribute("data-code")); };
      });
    });
  };

  App.prototype.drawAreas = function (d, fc, group) {
    var self = this, s = d.style, zoom = this.map.getZoom();
    var label = (d.id === "counties" && zoom < 11) || (d.id === "townships" && zoom >= 10 && zoom < 13) ||
      // villages and cells: named by the incident counts when those are drawn at that level
      (!this.visible.incidents && ((d.id === "villages" && zoom >= 12) || (d.id === "grids" && zoom >= 14))) ||
      (this.cfg.mode === "grid" && d.id === "grids");
    var where = this.pane(d.source), placer = new Placer(this.map);
    L.geoJSON(fc, {
      pane: where.pane,
      style: function (f) {
        return { renderer: where.renderer, color: s.color, weight: s.weight, dashArray: s.dash, fill: !!f.properties._color,
                 fillColor: f.properties._color || s.color, fillOpacity: f.properties._color ? s.fill_opacity : 0 };
      },
      onEachFeature: function (f, layer) {
        self.bindPopup(layer, self.popup(d, f.properties));
        if (label && f.properties.name) self.label(layer, String(f.properties.name), placer);
      },
    }).addTo(group);
  };

  App.prototype.drawPoints = function (d, fc, group) {
    var self = this, s = d.style, where = this.pane(d.source);
    fc.features.forEach(function (f) {
      var c = f.geometry.coordinates, p = f.properties;
      var m = L.circleMarker([c[1], c[0]], {
        pane: where.pane, renderer: where.renderer,
        radius: s.radius, color: "#ffffff", weight: 1, fillColor: p._color || s.color, fillOpacity: 0.9,
        className: "gm-point gm-layer-" + d.id,
      });
      m.gmCode = p.code;
      self.bindPopup(m, self.popup(d, p));
      if (d.source === "incidents") {
        m.on("click", function () { document.dispatchEvent(new CustomEvent("gridmap:pick", { detail: { code: p.code } })); });
      }
      m.addTo(group);
    });
  };

  App.prototype.drawCounts = function (d, fc, group) {
    var self = this, t = this.t, max = 1, where = this.pane("areas"), placer = new Placer(this.map);
    fc.features.forEach(function (f) { max = Math.max(max, f.properties.open); });
    var counts = function (p) {
      return esc(p.name) + " · " + esc(t.open) + " " + p.open + " · " + esc(t.overdue) + " " + p.overdue +
        " · " + esc(t.due_soon) + " " + p.due_soon + " · " + esc(t.closed) + " " + p.closed;
    };
    // the badges first, the most overdue and then the fullest first: one that would cover a
    // badge already placed is left out, and its area says its counts on hover instead
    var order = fc.features.filter(function (f) { return f.properties.open || f.properties.overdue; });
    order.sort(function (a, b) { return (b.properties.overdue - a.properties.overdue) || (b.properties.open - a.properties.open); });
    var shown = {}, hidden = 0;
    order.forEach(function (f) {
      var p = f.properties, w = 14 + 7.5 * String(p.open).length + (p.overdue ? 14 + 7.5 * String(p.overdue).length : 0);
      if (placer.take(L.latLng(p.badge[1], p.badge[0]), w + 4, 20)) shown[p.code] = true; else hidden += 1;
    });
    this.map.getContainer().setAttribute("data-gm-badges-hidden", String(hidden));
    L.geoJSON(fc, {
      pane: where.pane,
      style: function (f) {
        return { renderer: where.renderer, color: "#475569", weight: 0.8, fillColor: f.properties._color,
                 fillOpacity: 0.08 + 0.42 * Math.sqrt(f.properties.open / max) };
      },
      onEachFeature: function (f, layer) {
        layer.on("click", function () { self.map.fitBounds(layer.getBounds()); });
        // villages and cells by name (counties and townships: their outlines' labels)
        var named = f.properties.level === "village" || f.properties.level === "grid";
        if (named && f.properties.name) self.label(layer, String(f.properties.name), placer);
        if (!shown[f.properties.code] && (f.properties.open || f.properties.overdue)) {
          layer.bindTooltip(counts(f.properties), { sticky: true });
        }
      },
    }).addTo(group);
    fc.features.forEach(function (f) {
      var p = f.properties;
      if (!shown[p.code]) return;  // nothing waiting here, or no room: the area says it
      var html = '<div class="gm-badge' + (p.overdue ? " gm-has-overdue" : "") + '" data-code="' + esc(p.code) +
        '" data-level="' + esc(p.level) + '" data-total="' + p.total + '" data-open="' + p.open +
        '" data-overdue="' + p.overdue + '" data-due-soon="' + p.due_soon + '" data-closed="' + p.closed +
        '" title="' + esc(p.name) + '"><span class="gm-open-n">' + p.open + "</span>" +
        (p.overdue ? '<span class="gm-overdue-n">' + p.overdue + "</span>" : "") + "</div>";
      var icon = L.divIcon({ className: "gm-badge-icon", html: html, iconSize: null });
      var m = L.marker([p.badge[1], p.badge[0]], { icon: icon, keyboard: false });
      m.bindTooltip(counts(p), { direction: "top" });
      m.on("click", function () {
        var b = L.geoJSON(f).getBounds();
        self.map.fitBounds(b);
      });
      m.addTo(group);
    });
  };

  App.prototype.drawHeat = function (fc, group) {
    if (!L.heatLayer || !fc.features.length) return;
    var max = 1, pts = fc.features.map(function (f) {
      max = Math.max(max, f.properties.weight);
      return [f.geometry.coordinates[1], f.geometry.coordinates[0], f.properties.weight];
    });
    L.heatLayer(pts, { radius: 20, blur: 16, max: max, maxZoom: this.map.getZoom(), pane: this.pane("heat").pane }).addTo(group);
  };

  // -- legend, summary, status ----------------------------------------------------------------------

  App.prototype.buildLegend = function () {
    var self = this;
    if (this.legend) this.map.removeControl(this.legend);
    this.legend = L.control({ position: "bottomright" });
    this.legend.onAdd = function () {
      var box = el("div", { class: "gm-legend leaflet-bar" });
      var open = window.innerWidth >= 700 ? " open" : "";
      var parts = ["<details" + open + "><summary><b>" + esc(self.t.legend) + "</b></summary>"];
      self.cfg.layers.forEach(function (d) {
        var planLegend = self.cfg.mode === "plan" && d.source === "plan_cells";
        if (!planLegend && !(self.groups[d.id] && self.visible[d.id])) return;
        if (!d.style.classes.length) return;
        parts.push('<div class="gm-legend-title">' + esc(d.title) + "</div>");
        d.style.classes.forEach(function (c) {
          parts.push('<div><i style="background:' + esc(c.color) + '"></i>' + esc(c.label) + "</div>");
        });
        if (d.source === "incidents" && d.aggregation && self.cfg.mode === "dispatch") {
          parts.push('<label class="gm-check"><input type="checkbox" id="gm-show-closed"' +
            (self.state.showClosed ? " checked" : "") + "> " + esc(self.t.show_closed) + "</label>");
        }
      });
      box.innerHTML = parts.join("") + "</details>";
      var closed = box.querySelector("#gm-show-closed");
      if (closed) {
        closed.onchange = function () {
          self.state.showClosed = closed.checked;
          self.writeUrl();
          self.load("incidents");
        };
      }
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    this.legend.addTo(this.map);
  };

  App.prototype.summarise = function () {
    var box = document.getElementById("gm-summary"), fc = this.lastData.incidents, t = this.t;
    if (!box || !fc) return;
    var sum = { total: 0, open: 0, overdue: 0, due_soon: 0, closed: 0 };
    if (fc.level === "points") {
      fc.features.forEach(function (f) {
        sum.total += 1;
        if (["reported", "dispatched", "in_progress"].indexOf(f.properties.status) >= 0) sum.open += 1;
        if (f.properties.state === "overdue") sum.overdue += 1;
        if (f.properties.state === "due_soon") sum.due_soon += 1;
        if (f.properties.status === "closed") sum.closed += 1;
      });
    } else {
      fc.features.forEach(function (f) {
        Object.keys(sum).forEach(function (k) { sum[k] += f.properties[k]; });
      });
    }
    // closed incidents left off at point zoom are not "0": the summary says they are hidden
    var hidden = fc.level === "points" && this.closedOff();
    box.innerHTML = '<span class="gm-level">' + esc((t.levels || {})[fc.level] || fc.level) + "</span> " +
      ["open", "overdue", "due_soon", "closed"].map(function (k) {
        if (k === "closed" && hidden) {
          return '<span class="gm-sum gm-sum-closed" data-n="hidden" title="' + esc(t.show_closed) + '">' +
            esc(t.closed) + " <b>–</b></span>";
        }
        return '<span class="gm-sum gm-sum-' + k + '" data-n="' + sum[k] + '">' + esc(t[k]) + " <b>" + sum[k] + "</b></span>";
      }).join(" ");
  };

  App.prototype.stamp = function (quiet) {
    var box = document.getElementById("gm-status");
    if (!box) return;
    var now = fmtTime(new Date().toISOString()).slice(11);
    box.textContent = this.t.updated + " " + now + (this.cfg.api && this.refresh ? " · " + this.t.refresh_every + " " + this.refresh : "");
  };

  App.prototype.toast = function (message) {
    var box = document.getElementById("gm-toast");
    if (!box) { box = el("div", { id: "gm-toast" }); document.body.appendChild(box); }
    box.textContent = message;
    box.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(function () { box.hidden = true; }, 6000);
  };

  // -- the dispatcher's panel: filters with counts, lists, one incident ----------------------------

  App.prototype.buildPanel = function () {
    var t = this.t, self = this;
    var panel = el("div", { id: "gm-panel", class: "gm-panel" });
    var head = '<div class="gm-head"><h1>' + esc(this.cfg.title) + '</h1><div id="gm-user"></div></div>' +
      '<div id="gm-summary" class="gm-summary"></div>';
    if (this.cfg.mode === "dispatch") {
      head += '<details class="gm-filters" open><summary>' + esc(t.filters) + "</summary>" +
        '<div class="gm-presets">' + ["today", "last7", "last30", "this_year"].map(function (k) {
          return '<button type="button" data-preset="' + k + '">' + esc(t[k]) + "</button>";
        }).join("") + "</div>" +
        '<label>' + esc(t.since) + ' <input type="date" name="since"></label> ' +
        '<label>' + esc(t.until) + ' <input type="date" name="until"></label>' +
        ["category", "channel", "unit", "area"].map(function (k) {
          return '<label>' + esc(t[k]) + ' <select name="' + k + '"><option value="">' + esc(t.all) + "</option></select></label>";
        }).join("") +
        '<fieldset class="gm-status-box"><legend>' + esc(t.status) + '</legend><div id="gm-statuses"></div></fieldset>' +
        '<label class="gm-check"><input type="checkbox" name="overdue"> ' + esc(t.overdue_only) + "</label>" +
        '<button type="button" id="gm-reset">' + esc(t.reset) + "</button></details>" +
        (this.cfg.api ? "" :
          '<section><h2>' + esc(t.oldest_open) + '</h2><ol id="gm-oldest" class="gm-list"></ol></section>' +
          '<section><h2>' + esc(t.most_overdue) + '</h2><ol id="gm-overdue-list" class="gm-list"></ol></section>');
    }
    head += '<section id="gm-detail" hidden></section><div id="gm-status" class="gm-status"></div>';
    panel.innerHTML = head;
    document.body.appendChild(panel);
    L.DomEvent.disableClickPropagation(panel);
    L.DomEvent.disableScrollPropagation(panel);
    if (this.cfg.mode !== "dispatch") return;
    if (!this.cfg.api) {  // an exported file holds one snapshot: it cannot filter again
      panel.querySelector(".gm-filters").hidden = true;
      return;
    }
    var f = this.state.filters;
    panel.querySelectorAll("select, input[type=date]").forEach(function (input) {
      input.value = f[input.name] || "";
      input.addEventListener("change", function () { self.setFilter(input.name, input.value); });
    });
    var overdue = panel.querySelector("input[name=overdue]");
    overdue.checked = !!f.overdue;
    overdue.addEventListener("change", function () { self.setFilter("overdue", overdue.checked ? "true" : ""); });
    panel.querySelectorAll("[data-preset]").forEach(function (b) {
      b.addEventListener("click", function () { self.preset(b.getAttribute("data-preset")); });
    });
    document.getElementById("gm-reset").onclick = function () {
      self.state.filters = {};
      self.state.statuses = [];
      panel.querySelectorAll("select, input[type=date]").forEach(function (i) { i.value = ""; });
      overdue.checked = false;
      self.changed();
    };
  };

  App.prototype.preset = function (name) {
    var now = new Date(Date.now() + (8 * 60 + new Date().getTimezoneOffset()) * 60000);
    var iso = function (d) { return d.toISOString().slice(0, 10); };
    var from = new Date(now);
    if (name === "last7") from.setDate(now.getDate() - 6);
    else if (name === "last30") from.setDate(now.getDate() - 29);
    else if (name === "this_year") from = new Date(now.getFullYear(), 0, 1, 12);
    var until = new Date(now);
    until.setDate(now.getDate() + 1);
    this.state.filters.since = iso(from);
    this.state.filters.until = iso(until);
    document.querySelector("input[name=since]").value = this.state.filters.since;
    document.querySelector("input[name=until]").value = this.state.filters.until;
    this.changed();
  };

  App.prototype.setFilter = function (name, value) {
    if (value) this.state.filters[name] = value; else delete this.state.filters[name];
    this.changed();
  };

  App.prototype.changed = function () {
    this.writeUrl();
    this.reloadAll();
    document.dispatchEvent(new CustomEvent("gridmap:filters"));
  };

  App.prototype.loadFacets = function () {
    var self = this, t = this.t;
    this.get("/maps/facets", this.params()).then(function (facets) {
      ["category", "channel", "unit", "area"].forEach(function (k) {
        var select = document.querySelector("select[name=" + k + "]");
        if (!select) return;
        var current = self.state.filters[k] || "";
        var options = facets[k].map(function (o) {
          var label = k === "channel" ? (t.channels[o.value] || o.value) : (o.label || o.value);
          return '<option value="' + esc(o.value) + '" data-count="' + o.count + '">' + esc(label) + " (" + o.count + ")</option>";
        });
        if (current && !facets[k].some(function (o) { return o.value === current; })) {
          options.push('<option value="' + esc(current) + '" data-count="0">' + esc(current) + " (0)</option>");
        }
        select.innerHTML = '<option value="">' + esc(t.all) + "</option>" + options.join("");
        select.value = current;
      });
      var box = document.getElementById("gm-statuses");
      var counts = {};
      facets.status.forEach(function (o) { counts[o.value] = o.count; });
      box.innerHTML = Object.keys(t.statuses).map(function (s) {
        var on = self.state.statuses.indexOf(s) >= 0 ? " checked" : "";
        return '<label class="gm-check"><input type="checkbox" value="' + s + '"' + on + '> ' + esc(t.statuses[s]) +
          ' <span class="gm-count" data-status="' + s + '">' + (counts[s] || 0) + "</span></label>";
      }).join("");
      box.querySelectorAll("input").forEach(function (i) {
        i.addEventListener("change", function () {
          self.state.statuses = Array.prototype.map.call(box.querySelectorAll("input:checked"), function (x) { return x.value; });
          self.changed();
        });
      });
    }).catch(function () {});
  };

  App.prototype.loadLists = function () {
    var self = this;
    var open = { status: ["reported", "dispatched", "in_progress"], page_size: 10 };
    var base = this.params();
    delete base.status;
    this.get("/incidents", Object.assign({}, base, open, { sort: "reported_at" }))
      .then(function (page) { self.fillList("gm-oldest", page.items, "reported_at"); }).catch(function () {});
    this.get("/incidents", Object.assign({}, base, { overdue: "true", page_size: 10, sort: "resolve_due_at" }))
      .then(function (page) { self.fillList("gm-overdue-list", page.items, "resolve_due_at"); }).catch(function () {});
  };

  App.prototype.fillList = function (id, items, when) {
    var self = this, box = document.getElementById(id);
    if (!box) return;
    box.innerHTML = items.length ? items.map(function (i) {
      return '<li><a href="#" data-code="' + esc(i.code) + '" data-lat="' + i.lat + '" data-lon="' + i.lon + '">' +
        esc(i.code) + "</a> " + esc(i.title) + ' <small>' + esc(fmtTime(i[when])) + "</small></li>";
    }).join("") : "<li>" + esc(this.t.no_data) + "</li>";
    box.querySelectorAll("a").forEach(function (a) {
      a.onclick = function (e) {
        e.preventDefault();
        self.focus(a.getAttribute("data-code"), parseFloat(a.getAttribute("data-lat")), parseFloat(a.getAttribute("data-lon")));
      };
    });
  };

  App.prototype.focus = function (code, lat, lon) {
    var self = this;
    this.map.setView([lat, lon], 17);
    this.showIncident(code);
    document.addEventListener("gridmap:loaded", function opened(ev) {
      if (ev.detail.layer !== "incidents") return;
      document.removeEventListener("gridmap:loaded", opened);
      self.groups.incidents.eachLayer(function (m) { if (m.gmCode === code) m.openPopup(); });
    });
  };

  App.prototype.showIncident = function (code) {
    var self = this, t = this.t, box = document.getElementById("gm-detail");
    if (this.cfg.workflow && this.cfg.api) {  // the workbench's incident panel
      document.dispatchEvent(new CustomEvent("gridmap:pick", { detail: { code: code } }));
      return;
    }
    if (!box || !this.cfg.api) return;
    this.get("/incidents/" + encodeURIComponent(code)).then(function (i) {
      box.hidden = false;
      box.innerHTML = '<h2>' + esc(i.code) + ' <button type="button" class="gm-link" id="gm-detail-close">' + esc(t.close) +
        "</button></h2><p><b>" + esc(i.title) + "</b> · " + esc(t.statuses[i.status] || i.status) +
        (i.overdue ? ' · <span class="gm-overdue-n">' + esc(t.overdue) + "</span>" : "") + "</p>" +
        "<p>" + esc(i.unit_name) + " · " + esc(fmtTime(i.resolve_due_at)) + "</p><h3>" + esc(t.history) + "</h3><ol>" +
        (i.history || []).map(function (e) {
          return "<li>" + esc(fmtTime(e.at)) + " " + esc(e.action) + " → " + esc(t.statuses[e.to_status] || e.to_status) +
            (e.unit_code ? " (" + esc(e.unit_code) + ")" : "") + (e.note ? "<br><small>" + esc(e.note) + "</small>" : "") + "</li>";
        }).join("") + "</ol>";
      document.getElementById("gm-detail-close").onclick = function () { box.hidden = true; };
    }).catch(function (e) { self.toast(e.message); });
  };

  // -- the grid worker's cell -------------------------------------------------------------------

  App.prototype.beginGrid = function () {
    var self = this, code = this.cfg.area, t = this.t;
    var info = el("section", { id: "gm-cell", class: "gm-cell" }, esc(t.loading));
    document.getElementById("gm-panel").insertBefore(info, document.getElementById("gm-detail"));
    var cell = this.cfg.api ? this.get("/areas/" + code) : Promise.resolve((this.cfg.data.other || {})["/areas/" + code]);
    cell.then(function (area) {
      if (!area) throw new Error(t.not_found);
      var shape = L.geoJSON(area.geometry, { style: { color: "#1d4ed8", weight: 3, fillOpacity: 0.04 } }).addTo(self.map);
      shape.bindTooltip(esc(area.name), { permanent: true, direction: "center", className: "gm-label" });
      self.map.fitBounds(shape.getBounds(), { padding: [8, 8] });
      var c = area.counts || {};
      info.innerHTML = "<h2>" + esc(area.name) + " <small>" + esc(area.code) + "</small></h2><p>" +
        esc(t.households) + " <b>" + (c.households || 0) + "</b> · " + esc(t.buildings) + " <b>" + (c.buildings || 0) +
        "</b> · " + esc(t.work_units) + " <b>" + (c.work_units || 0) + "</b> · " + esc(t.open_incidents) +
        ' <b id="gm-cell-open">' + (c.open_incidents || 0) + "</b></p>" +
        '<h3>' + esc(t.open_incidents) + '</h3><ol id="gm-cell-incidents" class="gm-list"></ol>';
      self.cellBounds = shape.getBounds();
      var bbox = [self.cellBounds.getWest(), self.cellBounds.getSouth(), self.cellBounds.getEast(), self.cellBounds.getNorth()]
        .map(function (v) { return v.toFixed(6); }).join(",");
      ["buildings", "work_units"].forEach(function (id) {
        if (self.groups[id]) { self.groups[id].addTo(self.map); self.visible[id] = true; self.load(id, { area: code, bbox: bbox, zoom: 16 }); }
      });
      self.groups.incidents.addTo(self.map);
      self.visible.incidents = true;
      self.load("incidents", { area: code, bbox: bbox, zoom: 18, status: ["reported", "dispatched", "in_progress"] }).then(function () {
        var fc = self.lastData.incidents || { features: [] };
        document.getElementById("gm-cell-incidents").innerHTML = fc.features.map(function (f) {
          var p = f.properties;
          return '<li class="gm-state-' + esc(p.state) + '">' + esc(p.code) + " " + esc(p.category_name) + " <small>" + esc(fmtTime(p.resolve_due_at)) + "</small></li>";
        }).join("") || "<li>" + esc(t.no_data) + "</li>";
      });
      self.buildLegend();
    }).catch(function (e) {
      info.innerHTML = '<p class="gm-error">' + esc(e.status === 404 || !e.status ? t.not_found : e.message) + "</p>";
      document.body.setAttribute("data-gm-denied", "1");
    });
  };

  // -- plans compared ---------------------------------------------------------------------------

  App.prototype.beginPlan = function () {
    var self = this, t = this.t, cfg = this.cfg;
    var right = el("div", { id: "gm-compare-map", class: "gm-compare-map" });
    document.body.appendChild(right);
    document.body.classList.add("gm-split");
    this.map.invalidateSize();
    var other = L.map(right, { zoomControl: false, attributionControl: false, preferCanvas: true });
    var group = L.layerGroup().addTo(other);
    other.setView(this.map.getCenter(), this.map.getZoom());
    var syncing = false;
    var sync = function (a, b) {
      a.on("move", function () {
        if (syncing) return;
        syncing = true;
        b.setView(a.getCenter(), a.getZoom(), { animate: false });
        syncing = false;
      });
    };
    sync(this.map, other);
    sync(other, this.map);
    var d = this.layers.plan_cells;
    var table = el("section", { id: "gm-deviation", class: "gm-deviation" });
    document.getElementById("gm-panel").insertBefore(table, document.getElementById("gm-detail"));
    // one area (?area=, e.g. a county): only its cells, simplified for the zoom an area of
    // its level is seen at (by its code's length; no request to learn its bounds first)
    var zoom = { 6: 10, 9: 12, 12: 14 }[String(cfg.area || "").length] || 12;
    document.body.setAttribute("data-gm-plan-zoom", String(zoom));
    var ask = function (plan, compare) {
      return self.get("/layers/plan_cells/features", { plan: plan, compare: compare, area: cfg.area, target: cfg.target, zoom: zoom, lang: cfg.lang });
    };
    var left = this.groups.plan_cells || L.layerGroup();
    left.addTo(this.map);
    Promise.all([ask(cfg.plan, cfg.compare), cfg.compare ? ask(cfg.compare, cfg.plan) : Promise.resolve(null)])
      .then(function (res) {
        self.drawPlan(d, res[0], left);
        if (res[1]) self.drawPlan(d, res[1], group);
        var fit = L.geoJSON(res[0]).getBounds();
        if (fit.isValid()) self.map.fitBounds(fit);
        table.innerHTML = "<h2>" + esc(t.deviation_table) + "</h2>" + self.deviationTable(res[0], res[1]);
        self.buildLegend();
      }).catch(function (e) { table.innerHTML = '<p class="gm-error">' + esc(e.message) + "</p>"; });
  };

  App.prototype.drawPlan = function (d, fc, group) {
    var self = this;
    L.geoJSON(fc, {
      style: function (f) {
        var changed = f.properties.change && f.properties.change !== "same";
        return { color: changed ? "#111827" : "#64748b", weight: changed ? 2.5 : 0.6, fillColor: f.properties._color, fillOpacity: 0.65 };
      },
      onEachFeature: function (f, layer) { self.bindPopup(layer, self.popup(d, f.properties)); },
    }).addTo(group);
  };

  App.prototype.deviationTable = function (a, b) {
    var t = this.t, d = this.layers.plan_cells;
    var row = function (fc, name) {
      if (!fc) return "";
      var counts = d.style.classes.map(function () { return 0; }), n = fc.features.length, changed = 0;
      fc.features.forEach(function (f) {
        var idx = 0;
        d.style.classes.forEach(function (c, i) { if (f.properties.deviation >= c.value) idx = i; });
        counts[idx] += 1;
        if (f.properties.change && f.properties.change !== "same") changed += 1;
      });
      return "<tr><th>" + esc(name) + "</th><td>" + n + "</td>" + counts.map(function (c) {
        return "<td>" + c + "</td>";
      }).join("") + "<td>" + (n ? (100 * counts[2] / n).toFixed(1) : "0") + "%</td><td>" + changed + "</td></tr>";
    };
    return '<table class="gm-table"><tr><th>' + esc(t.plan) + "</th><th>" + esc(t.cells) + "</th>" +
      d.style.classes.map(function (c) { return '<th><i style="background:' + esc(c.color) + '"></i></th>'; }).join("") +
      "<th>" + esc(t.within) + "</th><th>" + esc(t.changed) + "</th></tr>" +
      row(a, String(a && a.plan)) + row(b, String(b && b.plan)) + "</table>";
  };
})();
