/*
 * map.js: Corridor's live control-room map. Offline basemap (Natural Earth countries from
 * world-atlas, the corridor states from /api/countries), geofences from /api/geofences,
 * and a websocket (/ws, subprotocol corridor.v1) that delivers a snapshot, then live
 * positions and incidents. Reconnects on its own; a reconnect starts with a new snapshot.
 * State is kept in window.corridor so operators' tools and the browser tests can read it.
 */
(function () {
  'use strict';

  const FENCE_COLOURS = {
    restricted: '#ff3b3b', port: '#3ba7ff', border_post: '#ffb020', parking: '#9aa4b2',
    checkpoint: '#b46cff', customs_office: '#2ad1a3', anchorage: '#4dd0e1',
  };
  const SEVERITY_ORDER = { critical: 0, high: 1, medium: 2, low: 3 };
  const TRAIL_POINTS = 30;
  // The Northern Corridor's main towns, Mombasa to Kigali (for orientation only).
  const PLACES = [
    ['Mombasa', -4.043, 39.668], ['Voi', -3.396, 38.556], ['Nairobi', -1.286, 36.817],
    ['Nakuru', -0.303, 36.080], ['Eldoret', 0.514, 35.270], ['Malaba', 0.636, 34.283],
    ['Busia', 0.460, 34.091], ['Jinja', 0.424, 33.204], ['Kampala', 0.347, 32.582],
    ['Mbarara', -0.607, 30.654], ['Katuna', -1.304, 29.999], ['Kigali', -1.944, 30.062],
  ];
  const ROAD = ['Mombasa', 'Voi', 'Nairobi', 'Nakuru', 'Eldoret', 'Malaba', 'Jinja', 'Kampala',
    'Mbarara', 'Katuna', 'Kigali'];

  const state = {
    connected: false, snapshots: 0, messages: 0,
    seals: new Map(),      // seal_id -> {marker, trail, points, last}
    incidents: new Map(),  // id -> incident
    lastUpdate: null,
  };
  window.corridor = state;

  const map = L.map('map', { zoomControl: true, preferCanvas: false, worldCopyJump: true,
    minZoom: 3, maxZoom: 14, attributionControl: true });
  state.map = map; // incidents.js pans to an incident
  map.attributionControl.setPrefix('');
  map.attributionControl.addAttribution('Natural Earth (public domain)');
  map.fitBounds([[-5.2, 29.0], [1.6, 40.4]]);
  const base = map.createPane('base'); base.style.zIndex = 200;
  const canvas = L.canvas({ pane: 'base', padding: 0.5 });

  // ---- basemap ----
  fetch('/vendor/world-atlas/countries-50m.json').then(r => r.json()).then(topo => {
    const world = topojson.feature(topo, topo.objects.countries);
    L.geoJSON(world, { renderer: canvas, interactive: false,
      style: { color: '#263246', weight: 0.8, fillColor: '#141c28', fillOpacity: 1 } }).addTo(map);
    return fetch('/api/countries');
  }).then(r => r.ok ? r.json() : { features: [] }).then(fc => {
    L.geoJSON(fc, { renderer: canvas, interactive: false,
      style: { color: '#4a6a96', weight: 1.3, fillColor: '#1c2a3f', fillOpacity: 1 },
      onEachFeature: (f, layer) => {
        L.tooltip({ permanent: true, direction: 'center', className: 'country-label' })
          .setLatLng(labelPoint(f, layer)).setContent(f.properties.name).addTo(map);
      } }).addTo(map);
    drawCorridor();
    loadGeofences();
  }).catch(e => console.error('basemap', e));

  // Tanzania, DR Congo and others reach far outside the view: label them inside it.
  function labelPoint(f, layer) {
    const fixed = { KE: [0.6, 37.9], UG: [1.6, 32.4], RW: [-2.05, 29.85], TZ: [-4.6, 34.5],
      BI: [-3.35, 29.9], SS: [4.6, 31.0], CD: [0.9, 29.3], ET: [4.3, 38.8], SO: [1.5, 42.0] };
    const p = fixed[f.properties.iso2];
    return p ? L.latLng(p[0], p[1]) : layer.getBounds().getCenter();
  }

  function drawCorridor() {
    const at = Object.fromEntries(PLACES.map(p => [p[0], [p[1], p[2]]]));
    L.polyline(ROAD.map(n => at[n]), { pane: 'base', color: '#5c7aa6', weight: 2,
      dashArray: '6 6', opacity: 0.8, interactive: false }).addTo(map);
    for (const [name, lat, lon] of PLACES) {
      L.circleMarker([lat, lon], { pane: 'base', radius: 2.5, color: '#8da2bf', weight: 1,
        fillOpacity: 1, interactive: false }).addTo(map)
        .bindTooltip(name, { permanent: true, direction: 'right', className: 'place-label',
          offset: [4, 0] });
    }
  }

  // ---- geofences ----
  let fenceLayer = null;
  function loadGeofences() {
    fetch('/api/geofences').then(r => (r.ok ? r.json() : null)).then(fc => {
      if (!fc) return; // a role that may not read the geofences (an rru token) sees none
      if (fenceLayer) fenceLayer.remove();
      fenceLayer = L.geoJSON(fc, {
        style: f => {
          const c = FENCE_COLOURS[f.properties.kind] || '#9aa4b2';
          const restricted = f.properties.kind === 'restricted';
          return { color: c, weight: restricted ? 2 : 1.5, fillColor: c,
            fillOpacity: restricted ? 0.28 : 0.16, dashArray: restricted ? null : '4 3' };
        },
        onEachFeature: (f, layer) => layer.bindPopup(
          `<b>${esc(f.properties.name)}</b><br>${esc(f.properties.kind.replace('_', ' '))}` +
          (f.properties.country ? ` · ${esc(f.properties.country)}` : '')),
      }).addTo(map);
      state.geofences = fc.features.length;
    }).catch(e => console.error('geofences', e));
  }

  const legend = L.control({ position: 'bottomleft' });
  legend.onAdd = () => {
    const d = L.DomUtil.create('div', 'legend');
    d.innerHTML = Object.entries(FENCE_COLOURS).map(([k, c]) =>
      `<i style="background:${c}"></i>${k.replace('_', ' ')}`).join('<br>');
    return d;
  };
  legend.addTo(map);

  // ---- seals ----
  function sealIcon(p) {
    const alarm = p.alarm || p.lock === 'open';
    const rot = Number.isFinite(p.bearing) ? p.bearing : 0;
    return L.divIcon({
      className: 'seal-icon' + (alarm ? ' alarm' : ''), iconSize: [28, 28], iconAnchor: [14, 14],
      html: `<svg viewBox="-14 -14 28 28"><g transform="rotate(${rot})">` +
        `<path d="M0,-11 L7,8 L0,4 L-7,8 Z" fill="#4fd1ff" stroke="#02131f" stroke-width="1.5"/>` +
        `</g></svg><span class="tag">${esc(p.seal_id)}</span>`,
    });
  }

  function onPosition(p) {
    if (!p || typeof p.seal_id !== 'string' || !Number.isFinite(p.lat)) return;
    let s = state.seals.get(p.seal_id);
    const ll = [p.lat, p.lon];
    if (!s) {
      s = { points: [], trail: L.polyline([], { color: '#4fd1ff', weight: 2, opacity: 0.55,
        interactive: false }).addTo(map) };
      s.marker = L.marker(ll, { icon: sealIcon(p), keyboard: false }).addTo(map);
      s.marker.getElement() && s.marker.getElement().setAttribute('data-seal', p.seal_id);
      state.seals.set(p.seal_id, s);
    } else {
      if (s.last && p.time && s.last.time && p.time < s.last.time) return; // stale
      s.marker.setLatLng(ll);
      s.marker.setIcon(sealIcon(p));
      s.marker.getElement() && s.marker.getElement().setAttribute('data-seal', p.seal_id);
    }
    s.points.push(ll);
    if (s.points.length > TRAIL_POINTS) s.points.shift();
    s.trail.setLatLngs(s.points);
    s.last = p;
    s.marker.bindPopup(`<b>${esc(p.seal_id)}</b><br>${fmtTime(p.time)}` +
      (p.speed_kmh != null ? `<br>${Math.round(p.speed_kmh)} km/h` : '') +
      (p.battery != null ? ` · battery ${Math.round(p.battery)}%` : '') +
      (p.lock ? `<br>lock: ${esc(p.lock)}` : '') + (p.alarm ? `<br>alarm: ${esc(p.alarm)}` : ''));
    state.lastUpdate = new Date();
  }

  // ---- incidents ----
  const list = document.getElementById('incidents');
  function onIncident(n, fresh) {
    if (!n || n.id == null) return;
    if (n.status === 'resolved') state.incidents.delete(n.id);
    else state.incidents.set(n.id, n);
    renderIncidents(fresh ? n.id : null);
    state.lastUpdate = new Date();
  }

  function renderIncidents(freshId) {
    // incidents.js, when loaded, renders the panel with its actions
    if (state.renderIncidents) return state.renderIncidents(freshId), updateStatus();
    const items = [...state.incidents.values()].sort((a, b) =>
      (b.opened_at || '').localeCompare(a.opened_at || '') || b.id - a.id);
    list.replaceChildren(...items.map(n => {
      const li = document.createElement('li');
      li.className = `sev-${n.severity}` + (n.id === freshId ? ' fresh' : '');
      li.dataset.id = n.id;
      li.dataset.rule = n.rule;
      li.dataset.seal = n.seal_id || '';
      const subject = n.seal_id ? `seal ${n.seal_id}` : n.mmsi ? `MMSI ${n.mmsi}` : '';
      const where = n.details && n.details.fence ? ` · ${n.details.fence}` : '';
      li.innerHTML = `<div class="row"><span class="sev">${esc(n.severity)}</span>` +
        `<span class="meta">${fmtTime(n.opened_at)}</span></div>` +
        `<div class="rule">${esc(n.rule.replace(/_/g, ' '))}</div>` +
        `<div class="meta">${esc(subject + where)} · #${n.id} · ${esc(n.status)}` +
        (n.event_count > 1 ? ` · ${n.event_count}×` : '') + `</div>`;
      li.addEventListener('click', () => {
        if (Number.isFinite(n.lat)) map.setView([n.lat, n.lon], Math.max(map.getZoom(), 9));
      });
      return li;
    }));
    document.getElementById('incident-count').textContent = items.length;
    document.getElementById('no-incidents').style.display = items.length ? 'none' : '';
    updateStatus();
  }

  // ---- the websocket ----
  let ws = null, backoff = 1000;
  function connect() {
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
    ws = new WebSocket(url, 'corridor.v1');
    ws.onopen = () => { state.connected = true; backoff = 1000; updateStatus(); };
    ws.onmessage = ev => {
      let m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      state.messages++;
      if (m.type === 'snapshot') {
        state.snapshots++;
        state.incidents.clear();
        (m.seals || []).forEach(onPosition);
        (m.incidents || []).forEach(n => onIncident(n, false));
        renderIncidents(null);
        if (state.onVessels) state.onVessels(m.vessels || []); // vessels.js
      } else if (m.type === 'position') onPosition(m);
      else if (m.type === 'vessel') { if (state.onVessel) state.onVessel(m); }
      else if (m.type === 'incident') onIncident(m, true);
      else if (m.type === 'command') { if (state.onCommand) state.onCommand(m); } // commands.js
      else if (m.type === 'error') console.warn('server:', m.error, m.detail);
      updateStatus();
    };
    ws.onclose = () => {
      state.connected = false;
      updateStatus();
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 10000);
    };
  }

  const statusEl = document.getElementById('status');
  function updateStatus() {
    statusEl.className = 'status ' + (state.connected ? 'connected' : 'reconnecting');
    statusEl.dataset.state = state.connected ? 'connected' : 'reconnecting';
    statusEl.textContent = (state.connected ? 'live' : 'reconnecting…') +
      ` · ${plural(state.seals.size, 'seal')} · ${plural(state.incidents.size, 'open incident')}` +
      (state.lastUpdate ? ` · updated ${state.lastUpdate.toISOString().slice(11, 19)}Z` : '');
  }

  function plural(n, what) { return `${n} ${what}${n === 1 ? '' : 's'}`; }
  function fmtTime(t) {
    if (!t) return '';
    return t.slice(0, 10) === new Date().toISOString().slice(0, 10)
      ? t.slice(11, 19) + 'Z' : t.slice(0, 16).replace('T', ' ') + 'Z';
  }
  function esc(s) {
    return String(s == null ? '' : s).replace(/[&<>"']/g,
      c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  }

  updateStatus();
  connect();
  setInterval(loadGeofences, 60000);
})();
