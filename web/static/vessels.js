/*
 * vessels.js: the vessels layer of the control-room map (docs/vessels.md). Ships from the
 * websocket's snapshot and live "vessel" messages (map.js hands them over through
 * window.corridor.onVessels / onVessel), drawn as hull markers rotated by heading (course
 * when the heading is not available) and coloured by ship type; watched vessels are
 * larger, ringed, labelled and drawn with their stored track (GET /api/vessels/{mmsi}).
 * Clicking a vessel opens its detail panel (name, MMSI, IMO, call sign, type,
 * destination, ETA, speed, course, last seen, watch entries, open incidents) where an
 * officer starts tracking (POST /api/watchlist with a declaration reference and a reason)
 * or stops an entry (DELETE /api/watchlist/{id}). A layer toggle hides vessels and tracks.
 * State is kept in window.corridor.vessels (mmsi -> entry) for tools and tests.
 */
(function () {
  'use strict';
  const state = window.corridor;
  if (!state || !state.map) return;
  const map = state.map;

  // ---- styles (kept with the layer that uses them) ----
  const css = document.createElement('style');
  css.textContent = `
.vessel-icon { width: 22px; height: 22px; }
.vessel-icon svg { width: 22px; height: 22px; filter: drop-shadow(0 0 2px #000); overflow: visible; }
.vessel-icon.watched svg { width: 30px; height: 30px; margin: -4px 0 0 -4px; }
.vessel-icon.watched .ring { stroke: #ffd24a; }
.vessel-icon .tag { position: absolute; left: 26px; top: 2px; white-space: nowrap; font-size: 11px;
  font-family: "DejaVu Sans Mono", monospace; color: #ffe9a8; background: #0b1320cc;
  border: 1px solid #6b5a1f; border-radius: 3px; padding: 0 4px; }
.vessel-icon.dark svg { opacity: .45; }
#vessel-panel { position: absolute; z-index: 900; top: 10px; left: 56px; width: 300px;
  max-height: calc(100% - 40px); overflow-y: auto; background: var(--panel);
  border: 1px solid #2b3b55; border-radius: 5px; padding: 8px 10px; display: none;
  box-shadow: 0 4px 18px #000a; }
#vessel-panel.open { display: block; }
#vessel-panel h3 { margin: 0 0 4px; font-size: 14px; color: #8fc3ff; padding-right: 20px; }
#vessel-panel .close { position: absolute; right: 6px; top: 4px; background: none; border: 0;
  color: var(--dim); font-size: 18px; cursor: pointer; }
#vessel-panel dl { display: grid; grid-template-columns: 86px 1fr; gap: 1px 8px; margin: 6px 0;
  font-size: 12px; }
#vessel-panel dt { color: var(--dim); }
#vessel-panel dd { margin: 0; font-family: "DejaVu Sans Mono", monospace; }
#vessel-panel .watch { border-top: 1px solid #1f2b3d; padding-top: 6px; margin-top: 6px; }
#vessel-panel .entry { font-size: 11px; margin: 3px 0; display: flex; justify-content: space-between;
  gap: 6px; align-items: center; }
#vessel-panel .badge { background: #6b5a1f; color: #ffe9a8; border-radius: 3px; padding: 0 5px;
  font-size: 11px; }
#vessel-panel form { display: grid; gap: 4px; margin-top: 6px; }
#vessel-panel input, #vessel-panel button.act { font: inherit; font-size: 12px; background: #1a2740;
  color: var(--text); border: 1px solid #2b3b55; border-radius: 3px; padding: 3px 6px; }
#vessel-panel button.act { cursor: pointer; }
#vessel-panel button.act.primary { border-color: #d8b24a; }
#vessel-panel .msg { font-size: 11px; margin-top: 4px; color: var(--ok); }
#vessel-panel .msg.error { color: var(--warn); }
#vessel-panel .incident { font-size: 11px; color: #ffb3b3; }
.leaflet-control-layers { background: var(--panel); color: var(--text); border: 1px solid #1f2b3d !important; }
.legend .ship { display: inline-block; width: 10px; height: 10px; margin-right: 6px; vertical-align: -1px;
  clip-path: polygon(50% 0, 100% 100%, 0 100%); }`;
  document.head.appendChild(css);

  // ---- ship types (ITU-R M.1371 table 53, first digit) ----
  const TYPES = [
    [30, 30, 'fishing', '#ffd166'], [31, 32, 'towing', '#c0c0c0'], [33, 33, 'dredging', '#c0c0c0'],
    [35, 35, 'military', '#c0c0c0'], [36, 37, 'sailing / pleasure', '#e08cff'],
    [40, 49, 'high-speed craft', '#ffd166'], [50, 59, 'pilot, tug, SAR, port', '#7fe0d0'],
    [60, 69, 'passenger', '#5aa9ff'], [70, 79, 'cargo', '#3ddc84'], [80, 89, 'tanker', '#ff7a45'],
  ];
  function shipType(t) {
    for (const [lo, hi, name, colour] of TYPES) if (t >= lo && t <= hi) return { name, colour };
    return { name: t ? `other (${t})` : 'unknown', colour: '#9aa4b2' };
  }

  const vessels = new Map(); // mmsi -> {v, marker, track}
  state.vessels = vessels;
  const ui = { open: null, lastAction: null };
  state.vesselsUI = ui;
  const layer = L.layerGroup().addTo(map);
  const tracks = L.layerGroup().addTo(map);
  L.control.layers(null, { 'Vessels (AIS)': layer, 'Watched vessel tracks': tracks },
    { collapsed: false, position: 'topright' }).addTo(map);

  // the ship types in the map's legend, under the fence kinds
  const legend = document.querySelector('.legend');
  if (legend) {
    legend.innerHTML += '<br>' + [['cargo', '#3ddc84'], ['tanker', '#ff7a45'],
      ['passenger', '#5aa9ff'], ['fishing', '#ffd166'], ['other vessel', '#9aa4b2']]
      .map(([k, c]) => `<span class="ship" style="background:${c}"></span>${k}`).join('<br>') +
      '<br><span class="ship" style="background:#ffd24a"></span>watched (ringed)';
  }

  function rotation(v) {
    if (Number.isFinite(v.heading) && v.heading >= 0 && v.heading < 360) return v.heading;
    return Number.isFinite(v.cog) ? v.cog : 0;
  }

  function icon(v) {
    const t = shipType(v.ship_type);
    const stale = v.last_seen && Date.now() - Date.parse(v.last_seen) > 30 * 60000;
    const moving = Number.isFinite(v.sog_kn) && v.sog_kn >= 1;
    // a pointed hull when under way, a round-ended one when (nearly) stopped
    const hull = moving ? 'M0,-10 L5,-3 L5,8 L-5,8 L-5,-3 Z' : 'M0,-8 Q5,-8 5,-2 L5,7 L-5,7 L-5,-2 Q-5,-8 0,-8 Z';
    return L.divIcon({
      className: 'vessel-icon' + (v.watched ? ' watched' : '') + (stale ? ' dark' : ''),
      iconSize: [22, 22], iconAnchor: [11, 11],
      html: `<svg viewBox="-11 -11 22 22"><g transform="rotate(${rotation(v)})">` +
        (v.watched ? '<circle class="ring" r="10.5" fill="none" stroke-width="2"/>' : '') +
        `<path d="${hull}" fill="${t.colour}" stroke="#02131f" stroke-width="1.2"/>` +
        `</g></svg>` + (v.watched ? `<span class="tag">${esc(v.name || v.mmsi)}</span>` : ''),
    });
  }

  // ---- vessel state ----
  function onVessel(v) {
    if (!v || !Number.isFinite(v.mmsi)) return;
    let e = vessels.get(v.mmsi);
    if (e && e.v.last_seen && v.last_seen && v.last_seen < e.v.last_seen) return; // stale
    const wasWatched = e ? e.v.watched : false;
    if (!e) {
      e = { v, marker: null, track: null };
      vessels.set(v.mmsi, e);
    }
    const moved = e.v.time !== v.time;
    e.v = v;
    if (Number.isFinite(v.lat) && Number.isFinite(v.lon)) {
      const ll = [v.lat, v.lon];
      if (!e.marker) {
        e.marker = L.marker(ll, { icon: icon(v), keyboard: false, zIndexOffset: v.watched ? 0 : -500,
          title: v.name || String(v.mmsi) }).addTo(layer);
        e.marker.on('click', () => openPanel(v.mmsi));
        e.marker.on('add', () => tag(e)); // the layer toggle makes a new element
      } else {
        e.marker.setLatLng(ll);
        e.marker.setIcon(icon(v));
        e.marker.setZIndexOffset(v.watched ? 0 : -500);
      }
      tag(e);
      if (v.watched && e.track && moved) e.track.addLatLng(ll);
    }
    if (v.watched && !wasWatched) loadTrack(v.mmsi);
    if (!v.watched && e.track) { e.track.remove(); e.track = null; }
    if (ui.open === v.mmsi) renderPanel();
  }

  function tag(e) {
    const el = e.marker && e.marker.getElement();
    if (el) { el.setAttribute('data-mmsi', e.v.mmsi); el.classList.toggle('watched', !!e.v.watched); }
  }

  function onVessels(list) {
    const seen = new Set(list.map(v => v.mmsi));
    for (const [mmsi, e] of vessels) // gone from the snapshot: not heard for an hour
      if (!seen.has(mmsi)) { if (e.marker) e.marker.remove(); if (e.track) e.track.remove(); vessels.delete(mmsi); }
    list.forEach(onVessel);
  }
  state.onVessel = onVessel;
  state.onVessels = onVessels;

  // ---- watched vessels' tracks ----
  function loadTrack(mmsi) {
    return fetch(`/api/vessels/${mmsi}`).then(r => r.ok ? r.json() : null).then(d => {
      const e = vessels.get(mmsi);
      if (!d || !e) return;
      e.detail = d;
      if (e.track) e.track.remove();
      e.track = null;
      if (e.v.watched) {
        const pts = d.track && d.track.coordinates ? d.track.coordinates.map(c => [c[1], c[0]]) : [];
        if (Number.isFinite(e.v.lat)) pts.push([e.v.lat, e.v.lon]);
        e.track = L.polyline(pts, { color: '#ffd24a', weight: 2.5, opacity: 0.85,
          dashArray: '5 4', interactive: false }).addTo(tracks);
      }
      if (ui.open === mmsi) renderPanel();
    }).catch(err => console.error('vessel', mmsi, err));
  }

  // ---- the detail panel ----
  const panel = document.createElement('div');
  panel.id = 'vessel-panel';
  panel.setAttribute('role', 'dialog');
  panel.setAttribute('aria-label', 'vessel details');
  document.getElementById('map').appendChild(panel);
  L.DomEvent.disableClickPropagation(panel);
  L.DomEvent.disableScrollPropagation(panel);
  const draft = { declaration: '', reason: '', port: '' };
  let message = null;

  function openPanel(mmsi) {
    ui.open = mmsi;
    message = null;
    panel.classList.add('open');
    renderPanel();
    loadTrack(mmsi);
  }
  function closePanel() { ui.open = null; panel.classList.remove('open'); }
  ui.openPanel = openPanel;

  function fmtTime(t) { return t ? t.slice(0, 16).replace('T', ' ') + 'Z' : '—'; }
  function ago(t) {
    if (!t) return '';
    const m = Math.round((Date.now() - Date.parse(t)) / 60000);
    return m < 1 ? ' (just now)' : m < 120 ? ` (${m} min ago)` : ` (${Math.round(m / 60)} h ago)`;
  }
  function num(x, unit, digits = 1) { return Number.isFinite(x) ? `${x.toFixed(digits)}${unit}` : '—'; }

  function renderPanel() {
    const e = vessels.get(ui.open);
    if (!e) return closePanel();
    const v = e.v, d = e.detail || {};
    const watch = (d.watch || []).filter(w => w.active);
    const incidents = d.incidents || [];
    const row = (k, val) => `<dt>${k}</dt><dd>${val}</dd>`;
    panel.dataset.mmsi = v.mmsi;
    panel.innerHTML = `<button class="close" title="close" aria-label="close">×</button>` +
      `<h3>${esc(v.name || 'unnamed vessel')} ${v.watched ? '<span class="badge">watched</span>' : ''}</h3>` +
      `<dl>${row('MMSI', v.mmsi)}${row('IMO', v.imo || '—')}${row('call sign', esc(v.callsign || '—'))}` +
      row('type', esc(shipType(v.ship_type).name)) + row('destination', esc(v.destination || '—')) +
      row('ETA', fmtTime(v.eta)) + row('speed', num(v.sog_kn, ' kn')) +
      row('course', num(v.cog, '°', 0)) + row('heading', Number.isFinite(v.heading) ? `${v.heading}°` : '—') +
      row('position', Number.isFinite(v.lat) ? `${v.lat.toFixed(4)}, ${v.lon.toFixed(4)}` : '—') +
      row('last seen', fmtTime(v.last_seen) + ago(v.last_seen)) +
      (v.in_harbour ? row('where', 'in port or anchorage') : '') + `</dl>` +
      (incidents.length ? incidents.map(n => `<div class="incident">⚠ ${esc(n.rule.replace(/_/g, ' '))} · #${n.id}</div>`).join('') : '') +
      `<div class="watch"><b>Tracking</b>` +
      (watch.length ? watch.map(w => `<div class="entry" data-watch="${w.id}"><span>${esc(w.declaration)} · ` +
        `${esc(w.reason)}<br><span class="meta">since ${fmtTime(w.started_at)} by ${esc(w.actor || '?')}</span></span>` +
        `<button class="act stop" data-id="${w.id}">Stop</button></div>`).join('')
        : '<div class="entry">not tracked</div>') +
      `<form class="start"><input name="declaration" placeholder="declaration reference" required maxlength="200">` +
      `<input name="reason" placeholder="reason" required maxlength="1000">` +
      `<input name="port" placeholder="declared port (optional)" maxlength="100">` +
      `<button class="act primary" type="submit">Start tracking</button></form>` +
      (message ? `<div class="msg${message.error ? ' error' : ''}">${esc(message.text)}</div>` : '') + `</div>`;
    panel.querySelector('.close').onclick = closePanel;
    const form = panel.querySelector('form.start');
    for (const k of Object.keys(draft)) {
      form.elements[k].value = draft[k];
      form.elements[k].oninput = () => { draft[k] = form.elements[k].value; };
    }
    form.onsubmit = ev => { ev.preventDefault(); startTracking(v.mmsi); };
    panel.querySelectorAll('button.stop').forEach(b => { b.onclick = () => stopTracking(v.mmsi, b.dataset.id); });
  }

  function answer(r) {
    return r.text().then(t => {
      let body = null;
      try { body = JSON.parse(t); } catch (e) { /* not JSON */ }
      ui.lastAction = { status: r.status, body };
      return { ok: r.ok, status: r.status, body };
    });
  }

  function startTracking(mmsi) {
    const body = { mmsi, declaration: draft.declaration.trim(), reason: draft.reason.trim() };
    if (draft.port.trim()) body.port = draft.port.trim();
    fetch('/api/watchlist', { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body) }).then(answer).then(a => {
      if (a.ok) {
        message = { text: `tracking started (watch #${a.body.id})` };
        draft.declaration = draft.reason = draft.port = '';
        refresh(mmsi, true);
      } else {
        message = { text: a.body ? `${a.body.detail}` : `refused (${a.status})`, error: true };
        renderPanel();
      }
    }).catch(err => { message = { text: String(err), error: true }; renderPanel(); });
  }

  function stopTracking(mmsi, id) {
    fetch(`/api/watchlist/${id}`, { method: 'DELETE' }).then(answer).then(a => {
      message = a.ok ? { text: `watch #${id} stopped` }
        : { text: a.body ? a.body.detail : `refused (${a.status})`, error: true };
      refresh(mmsi, null);
    }).catch(err => { message = { text: String(err), error: true }; renderPanel(); });
  }

  // Re-reads the vessel after a watch change (the websocket only says so at its next report).
  function refresh(mmsi) {
    return fetch(`/api/vessels/${mmsi}`).then(r => r.ok ? r.json() : null).then(d => {
      const e = vessels.get(mmsi);
      if (!d || !e) return;
      e.detail = d;
      onVessel(Object.assign({}, e.v, { watched: d.watched })); // marker, track
      renderPanel();
    });
  }

  map.on('click', () => { if (ui.open != null) closePanel(); });

  function esc(s) {
    return String(s == null ? '' : s).replace(/[&<>"']/g,
      c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  }
})();
