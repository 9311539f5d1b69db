/*
 * trips.js: the trip panel of the live map. Clicking a seal (its popup opens) looks up the
 * seal's armed trip (GET /api/trips) and shows it (GET /api/trips/{id}): conveyance,
 * declaration, status and deadline, the route with its metric corridor drawn as the
 * polygon the server computes, checkpoints with the times they were passed, border legs,
 * the track since arming and the events with their evidence, and the commands of the trip's
 * seal with their states, live, and the actions the signed-in role may take (commands.js's
 * view; the seal's own command panel closes meanwhile, the trip panel carries it). The trip's
 * layers stay on the map until the panel is closed; the panel refreshes while it is open.
 * Loaded after map.js and before commands.js; uses window.corridor (the map and the seals) and
 * window.corridorCommands. The API token is added to every request by auth.js.
 */
(function () {
  'use strict';

  const C = window.corridor;
  if (!C || !C.map) return;
  const map = C.map;
  const REFRESH_MS = 10000;
  const EVENT_LIMIT = 40;

  const css = document.createElement('style');
  css.textContent = `
  header#bar a.nav { color: #8fc3ff; text-decoration: none; border: 1px solid #2b3b55;
    border-radius: 4px; padding: 2px 10px; }
  header#bar a.nav:hover { background: #16233a; }
  #trip-panel { position: absolute; top: 10px; left: 54px; z-index: 1001; width: 380px;
    max-height: calc(100% - 20px); overflow-y: auto; background: #0d1522f2;
    border: 1px solid #2b3b55; border-radius: 6px; box-shadow: 0 6px 24px #000a;
    padding: 10px 14px 12px; display: none; }
  #trip-panel.open { display: block; }
  #trip-panel h3 { margin: 0 0 2px; font-size: 15px; color: #e9f3ff; display: flex; gap: 8px;
    align-items: center; }
  #trip-panel .x { margin-left: auto; background: none; border: 0; color: var(--dim);
    font-size: 20px; cursor: pointer; padding: 0 4px; }
  #trip-panel .badge { font-size: 10px; font-weight: 700; letter-spacing: .08em;
    text-transform: uppercase; padding: 1px 6px; border-radius: 3px; background: #1f2b3d; }
  #trip-panel .badge.armed { background: #123a26; color: var(--ok); }
  #trip-panel .badge.disarmed { background: #1f2b3d; color: #9fb6d6; }
  #trip-panel .badge.late { background: #3a2a08; color: var(--warn); }
  #trip-panel .id { font: 11px "DejaVu Sans Mono", monospace; color: var(--dim); }
  #trip-panel h4 { margin: 10px 0 4px; font-size: 11px; letter-spacing: .12em;
    text-transform: uppercase; color: var(--dim); }
  #trip-panel dl { display: grid; grid-template-columns: 96px 1fr; gap: 2px 8px; margin: 6px 0 0; }
  #trip-panel dt { color: var(--dim); }
  #trip-panel dd { margin: 0; }
  #trip-panel .mono { font-family: "DejaVu Sans Mono", monospace; }
  #trip-panel ol { list-style: none; margin: 0; padding: 0; }
  #trip-panel li { display: grid; grid-template-columns: 22px 1fr auto; gap: 6px;
    padding: 3px 0; border-bottom: 1px solid #16233a; }
  #trip-panel li .t { font: 11px "DejaVu Sans Mono", monospace; color: var(--dim); white-space: nowrap; }
  #trip-panel li.passed .n { color: var(--ok); }
  #trip-panel li.skipped .n { color: var(--warn); }
  #trip-panel li.ev { grid-template-columns: 1fr auto; }
  #trip-panel li.ev .k { font-weight: 600; }
  #trip-panel li.ev .d { grid-column: 1 / 3; color: var(--dim); font-size: 11px; }
  #trip-panel li.ev.bad .k { color: #ff8a8a; }
  #trip-panel .empty { color: var(--dim); margin: 4px 0; }
  #trip-panel .inc { color: #ff8a8a; }
  #trip-panel .cmds li { display: block; border-bottom: 0; padding: 4px 0; }
  `;
  document.head.appendChild(css);

  const panel = document.createElement('section');
  panel.id = 'trip-panel';
  panel.setAttribute('aria-label', 'trip');
  document.getElementById('map').appendChild(panel);
  L.DomEvent.disableClickPropagation(panel);
  L.DomEvent.disableScrollPropagation(panel);

  const state = { seal: null, trip: null, layers: null, timer: null, commands: null };
  // the commands' element outlives the panel's re-renders (their state and listeners with it)
  const cmdEl = document.createElement('div');
  cmdEl.className = 'trip-commands';
  const api = url => fetch(url, { headers: { Accept: 'application/json' } });
  C.trip = state;

  const VIOLATIONS = new Set(['route_deviation', 'checkpoint_skipped', 'checkpoint_out_of_order',
    'leg_overdue', 'transit_overdue', 'unauthorised_stop', 'signal_loss', 'seal_opened',
    'seal_tampered', 'low_battery', 'impossible_movement', 'undeclared_border_exit',
    'disarm_outside_destination']);

  function esc(s) {
    return String(s == null ? '' : s).replace(/[&<>"']/g,
      c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  }
  function when(t) { return t ? t.slice(0, 16).replace('T', ' ') + 'Z' : '—'; }
  function hm(t) { return t ? t.slice(11, 16) + 'Z' : '—'; }
  function short(t) { return t ? t.slice(5, 16).replace('T', ' ') : '—'; }

  // The one line of evidence an officer reads first, per event kind.
  function evidence(e) {
    const d = e.details || {};
    const km = m => (m >= 1000 ? (m / 1000).toFixed(1) + ' km' : Math.round(m) + ' m');
    switch (e.kind) {
      case 'route_deviation': return `${km(d.distance_m)} from the route for ${d.seconds_outside} s`;
      case 'route_return': return `back inside after ${d.seconds_outside} s`;
      case 'checkpoint_passed': return `checkpoint ${d.seq}${d.in_order ? '' : ' (out of order)'}` +
        (d.leg_minutes != null ? ` · leg ${d.leg_minutes} min` : '');
      case 'checkpoint_skipped': return `skipped ${(d.skipped_names || d.skipped || []).join(', ')}`;
      case 'leg_overdue': return `${d.checkpoint}: ${d.leg_minutes} of ${d.max_leg_minutes} min`;
      case 'transit_overdue': return `${d.minutes_late} min past the deadline`;
      case 'unauthorised_stop': return `stationary ${d.minutes} min`;
      case 'signal_loss': return `silent ${d.silent_minutes} min (limit ${d.reporting_limit_minutes})`;
      case 'low_battery': return `battery ${d.battery} % (under ${d.threshold} %)`;
      case 'impossible_movement': return `${Math.round(d.implied_kmh)} km/h over ${km(d.distance_m)}`;
      case 'border_crossing': case 'undeclared_border_exit':
        return `${d.from_country} → ${d.to_country}` + (d.border_post ? ` near ${d.border_post}` : '');
      case 'disarm_outside_destination': return `${km(d.distance_m)} outside ${d.destination}`;
      case 'trip_armed': return `deadline ${when(d.deadline)}`;
      case 'trip_disarmed': return `in ${d.destination}`;
      case 'seal_opened': return `lock ${d.lock}`;
      case 'seal_tampered': return `alarm ${d.alarm}`;
      default: return '';
    }
  }

  function clearLayers() {
    if (state.layers) state.layers.remove();
    state.layers = null;
  }

  // The trip's seal's commands (commands.js), mounted once per seal while a trip shows.
  function showCommands(seal) {
    if (!window.corridorCommands) return;
    if (!state.commands) state.commands = window.corridorCommands.mount(cmdEl, seal);
    else if (state.commands.seal !== seal) state.commands.show(seal);
    if (C.commands && C.commands.seal === seal) C.commands.close();
  }
  function hideCommands() {
    if (state.commands) state.commands.unmount();
    state.commands = null;
  }

  function close() {
    panel.classList.remove('open');
    clearLayers();
    hideCommands();
    clearInterval(state.timer);
    state.seal = state.trip = null;
  }

  function draw(t, fit) {
    clearLayers();
    const g = L.layerGroup();
    if (t.route && t.route.corridor)
      L.geoJSON(t.route.corridor, { interactive: false, style: { color: '#3ddc84', weight: 1,
        opacity: 0.7, fillColor: '#3ddc84', fillOpacity: 0.12 } }).addTo(g);
    if (t.route && t.route.geometry)
      L.geoJSON(t.route.geometry, { interactive: false, style: { color: '#3ddc84', weight: 2,
        dashArray: '8 6', opacity: 0.9 } }).addTo(g);
    if (t.track)
      L.geoJSON(t.track, { interactive: false, style: { color: '#ffd24a', weight: 3,
        opacity: 0.95 } }).addTo(g);
    for (const e of t.events || []) {
      if (!VIOLATIONS.has(e.kind) || !Number.isFinite(e.lat)) continue;
      L.circleMarker([e.lat, e.lon], { radius: 6, color: '#ff3b3b', weight: 2, fillColor: '#ff3b3b',
        fillOpacity: 0.35 }).bindTooltip(`${e.kind.replace(/_/g, ' ')} · ${hm(e.time)}`).addTo(g);
    }
    g.addTo(map);
    state.layers = g;
    if (fit) {
      const b = L.featureGroup(g.getLayers()).getBounds();
      if (b.isValid()) map.fitBounds(b, { paddingTopLeft: [420, 30], paddingBottomRight: [30, 30],
        maxZoom: 11 });
    }
  }

  // Replay buttons (replay.js): the trip from arming, and the seal's last 24 hours.
  function replayButtons(seal, trip) {
    if (!window.corridorReplay) return '';
    return `<div class="rp-btns">` +
      (trip ? `<button type="button" class="replay-trip" data-trip="${esc(trip)}">▶ Replay trip</button>` : '') +
      `<button type="button" class="replay-seal" data-seal="${esc(seal)}">▶ Replay seal · 24 h</button></div>`;
  }
  function wireReplay() {
    const t = panel.querySelector('.replay-trip'), s = panel.querySelector('.replay-seal');
    if (t) t.addEventListener('click', () => window.corridorReplay.trip(t.dataset.trip));
    if (s) s.addEventListener('click', () => window.corridorReplay.seal(s.dataset.seal));
  }

  function render(t) {
    const late = t.status === 'armed' && t.deadline && t.deadline < new Date().toISOString();
    const open = (t.incidents || []).filter(n => n.status !== 'resolved').length;
    const cps = (t.checkpoints || []).map(c => {
      const cls = c.passed_at ? 'passed' : '';
      return `<li class="cp ${cls}" data-seq="${c.seq}"><span class="n">${c.passed_at ? '✓' : c.seq}</span>` +
        `<span>${esc(c.name)}${c.passed_at && c.in_order === false ? ' <i>(out of order)</i>' : ''}` +
        `${c.max_leg_minutes ? ` <span class="t">≤ ${c.max_leg_minutes} min</span>` : ''}</span>` +
        `<span class="t">${c.passed_at ? short(c.passed_at) : 'not passed'}</span></li>`;
    }).join('');
    const legs = (t.legs || []).map(l =>
      `<li><span class="n">${esc(l.country || '?')}</span><span>${l.border_post ? 'via ' +
        esc(l.border_post) : 'from arming'}</span><span class="t">${short(l.entered_at)}</span></li>`).join('');
    const evs = (t.events || []).slice(-EVENT_LIMIT).reverse().map(e =>
      `<li class="ev${VIOLATIONS.has(e.kind) ? ' bad' : ''}" data-kind="${esc(e.kind)}">` +
      `<span class="k">${esc(e.kind.replace(/_/g, ' '))}</span><span class="t">${short(e.time)}</span>` +
      `<span class="d">${esc(evidence(e))}</span></li>`).join('');
    panel.innerHTML =
      `<h3><span class="mono">${esc(t.seal_id)}</span>` +
      `<span class="badge ${esc(t.status)}">${esc(t.status)}</span>` +
      (late ? '<span class="badge late">overdue</span>' : '') +
      `<button class="x" type="button" title="close" aria-label="close">×</button></h3>` +
      `<div class="id">trip ${esc(t.id)}</div>` +
      `<dl>` +
      `<dt>Plate</dt><dd class="mono" data-k="plate">${esc(t.conveyance.plate)}</dd>` +
      `<dt>Container</dt><dd class="mono" data-k="container">${esc(t.conveyance.container)}</dd>` +
      `<dt>Declaration</dt><dd class="mono" data-k="declaration">${esc(t.declaration)}</dd>` +
      `<dt>Route</dt><dd>${esc(t.route ? t.route.name : '')}` +
      (t.route ? ` <span class="id">· corridor ${t.route.corridor_m} m</span>` : '') + `</dd>` +
      `<dt>From → to</dt><dd>${esc(t.origin)} → ${esc(t.destination)}</dd>` +
      `<dt>Armed</dt><dd>${when(t.armed_at)}</dd>` +
      `<dt>Deadline</dt><dd data-k="deadline"${late ? ' style="color:var(--warn)"' : ''}>${when(t.deadline)}</dd>` +
      (t.disarmed_at ? `<dt>Disarmed</dt><dd>${when(t.disarmed_at)}</dd>` : '') +
      (t.latest ? `<dt>Last fix</dt><dd>${when(t.latest.time)}` +
        (t.latest.speed_kmh != null ? ` · ${Math.round(t.latest.speed_kmh)} km/h` : '') + `</dd>` : '') +
      `<dt>Incidents</dt><dd class="${open ? 'inc' : ''}">${open} open of ${(t.incidents || []).length}</dd>` +
      `</dl>` + replayButtons(t.seal_id, t.id) +
      `<h4>Commands</h4><div class="cmd-slot"></div>` +
      `<h4>Checkpoints</h4>` + (cps ? `<ol class="cps">${cps}</ol>` : '<p class="empty">none on this route</p>') +
      (legs ? `<h4>Countries</h4><ol>${legs}</ol>` : '') +
      `<h4>Events</h4>` + (evs ? `<ol class="events">${evs}</ol>` : '<p class="empty">none yet</p>');
    panel.querySelector('.x').addEventListener('click', close);
    panel.querySelector('.cmd-slot').replaceWith(cmdEl);
    wireReplay();
  }

  async function load(seal, fit) {
    const list = await api('/api/trips').then(r => (r.ok ? r.json() : []));
    const armed = list.find(t => t.seal_id === seal);
    const id = armed ? armed.id : state.trip && state.trip.seal_id === seal ? state.trip.id : null;
    if (!id) {
      clearLayers();
      hideCommands();
      state.trip = null;
      panel.innerHTML = `<h3><span class="mono">${esc(seal)}</span>` +
        `<button class="x" type="button" aria-label="close">×</button></h3>` +
        `<p class="empty">No armed trip for this seal.</p>` + replayButtons(seal, null);
      panel.querySelector('.x').addEventListener('click', close);
      wireReplay();
      panel.classList.add('open');
      return;
    }
    const r = await api(`/api/trips/${encodeURIComponent(id)}`);
    if (!r.ok) return;
    const t = await r.json();
    if (state.seal !== seal) return; // another seal was clicked meanwhile
    state.trip = t;
    render(t);
    showCommands(seal);
    draw(t, fit);
    panel.classList.add('open');
  }

  function show(seal) {
    state.seal = seal;
    clearInterval(state.timer);
    load(seal, true).catch(e => console.error('trip', e));
    state.timer = setInterval(() => state.seal && load(state.seal, false).catch(() => {}),
      REFRESH_MS);
  }
  state.show = show;
  state.close = close;

  // A seal's popup opening is the click on that seal (map.js binds one popup per marker).
  map.on('popupopen', e => {
    for (const [id, s] of C.seals) {
      if (s.marker && s.marker.getPopup() === e.popup) return show(id);
    }
  });
  document.addEventListener('keydown', e => { if (e.key === 'Escape') close(); });
})();
