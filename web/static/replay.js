/*
 * replay.js: a journey replayed on the live map (docs/replay.md). Opened by the Replay
 * buttons of the trip panel (trips.js): a trip from arming to disarming
 * (GET /api/trips/{id}/replay) or a seal's last 24 hours (GET /api/seals/{id}/replay).
 *
 * The answer is columns ({t, lon, lat, speed[, fuel]}: one value per fix, in time order),
 * so nothing here makes an object per fix beyond one LatLng. The clock runs on
 * requestAnimationFrame at x1 to x1000; each frame finds the fix at the clock by binary
 * search on t and puts the seal between it and the next one. The track is drawn twice:
 * the whole of it faint, once, and the part travelled on top, in polylines of CHUNK fixes
 * of which only the last changes in a frame, so a three-day trip at one fix every 10 s
 * (26,000 fixes) costs a few hundred points a frame, never 26,000 markers. The corridor,
 * checkpoints, origin and destination come from the same answer; the trip's events and
 * incidents are marks on the timeline and at their places (a click jumps there); speed
 * (and fuel, when there is any) is a small SVG chart under the map with the cursor.
 * Uses window.corridor (map.js); state is window.corridor.replay for the browser tests.
 */
(function () {
  'use strict';

  const C = window.corridor;
  if (!C || !C.map) return;
  const map = C.map;
  const CHUNK = 400;           // fixes per polyline of the travelled track
  const SPEEDS = [1, 10, 100, 1000];
  const MAX_MAP_EVENTS = 2000; // marks on the map (the timeline shows them all)
  const SEV_COLOUR = { critical: '#ff3b3b', high: '#ff7a45', medium: '#ffb020', low: '#5aa9ff' };
  const VIOLATIONS = new Set(['route_deviation', 'checkpoint_skipped', 'checkpoint_out_of_order',
    'leg_overdue', 'transit_overdue', 'unauthorised_stop', 'signal_loss', 'seal_opened',
    'seal_tampered', 'low_battery', 'impossible_movement', 'undeclared_border_exit',
    'disarm_outside_destination']);

  const dock = document.createElement('section');
  dock.id = 'replay';
  dock.setAttribute('aria-label', 'journey replay');
  document.getElementById('map').appendChild(dock);
  L.DomEvent.disableClickPropagation(dock);
  L.DomEvent.disableScrollPropagation(dock);

  const R = { open: false, loading: false, data: null, playing: false, speed: 100, follow: false,
    cur: 0, t0: 0, t1: 0, index: -1, pos: null, frames: 0, error: null };
  C.replay = R;
  let layers = null, marker = null, done = [], head = null, lls = [], raf = 0, last = 0;
  let chart = null;

  function esc(s) {
    return String(s == null ? '' : s).replace(/[&<>"']/g,
      c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  }
  function iso(t) { return new Date(t * 1000).toISOString().slice(0, 19).replace('T', ' ') + 'Z'; }
  function elapsed(s) {
    s = Math.max(0, Math.round(s));
    const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600),
      m = Math.floor(s % 3600 / 60), x = s % 60;
    const p = n => String(n).padStart(2, '0');
    return `+${d ? d + 'd ' : ''}${p(h)}:${p(m)}:${p(x)}`;
  }
  function words(k) { return String(k || '').replace(/_/g, ' '); }

  // The last fix at or before time x (-1 before the first): binary search on t.
  function fixAt(t, x) {
    let lo = 0, hi = t.length - 1;
    if (hi < 0 || x < t[0]) return -1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (t[mid] <= x) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  // ---- opening and closing ----
  async function open(url, title) {
    close();
    R.open = true; R.loading = true; R.error = null;
    dock.className = 'open';
    dock.innerHTML = `<div class="rp-head"><b>${esc(title)}</b><span class="rp-msg">loading…</span>` +
      `<button class="rp-x" type="button" aria-label="close replay" title="close">×</button></div>`;
    dock.querySelector('.rp-x').addEventListener('click', close);
    document.getElementById('map').classList.add('replaying');
    if (C.trip && C.trip.close) C.trip.close(); // its own track and corridor would double ours
    map.closePopup();
    let d;
    try {
      const r = await fetch(url, { headers: { Accept: 'application/json' } });
      d = await r.json();
      if (!r.ok) throw new Error(d.detail || d.error || r.status);
    } catch (e) {
      R.loading = false; R.error = String(e.message || e);
      dock.querySelector('.rp-msg').textContent = 'cannot replay: ' + R.error;
      return;
    }
    if (!R.open) return; // closed while loading
    R.loading = false;
    start(d, title);
  }

  function close() {
    cancelAnimationFrame(raf); raf = 0;
    if (layers) layers.remove();
    layers = marker = head = null; done = []; lls = [];
    R.open = R.playing = false; R.data = null; R.index = -1; R.pos = null;
    dock.className = ''; dock.innerHTML = '';
    document.getElementById('map').classList.remove('replaying');
    window.removeEventListener('resize', drawChart);
  }

  function start(d, title) {
    R.data = d;
    const t = d.t;
    lls = t.map((_, i) => L.latLng(d.lat[i], d.lon[i]));
    R.t0 = t.length ? t[0] : d.from;
    R.t1 = t.length ? t[t.length - 1] : (d.to || d.from);
    R.cur = R.t0; R.index = -1; R.playing = false;
    renderDock(title);
    drawMap();
    drawChart();
    window.addEventListener('resize', drawChart);
    seek(R.t0);
    const b = layers.getBounds ? L.featureGroup(layers.getLayers()).getBounds() : null;
    if (b && b.isValid()) map.fitBounds(b, { padding: [30, 30], paddingBottomRight: [30, 190], maxZoom: 12 });
  }

  // ---- the map ----
  function drawMap() {
    const d = R.data;
    layers = L.featureGroup().addTo(map);
    const rt = d.route;
    if (rt && rt.corridor)
      L.geoJSON(rt.corridor, { interactive: false, style: { color: '#3ddc84', weight: 1, opacity: 0.6,
        fillColor: '#3ddc84', fillOpacity: 0.1 } }).addTo(layers);
    if (rt && rt.line)
      L.geoJSON(rt.line, { interactive: false, style: { color: '#3ddc84', weight: 1.5,
        dashArray: '8 6', opacity: 0.8 } }).addTo(layers);
    for (const g of [rt && rt.origin, rt && rt.destination]) {
      if (g && g.geometry)
        L.geoJSON(g.geometry, { style: { color: '#2ad1a3', weight: 1.5, fillOpacity: 0.2 } })
          .bindTooltip(esc(g.name)).addTo(layers);
    }
    for (const c of (rt && rt.checkpoints) || []) {
      if (c.geometry)
        L.geoJSON(c.geometry, { interactive: false, style: { color: '#b46cff', weight: 1.5,
          fillOpacity: 0.18 } }).addTo(layers);
      L.circleMarker([c.lat, c.lon], { radius: 5, color: '#b46cff', weight: 2, fillColor: '#1a0f2b',
        fillOpacity: 1, className: 'rp-cp' })
        .bindTooltip(`${c.seq}. ${esc(c.name)}` + (c.passed ? ` · passed ${iso(c.passed)}` : ' · not passed'))
        .on('click', () => c.passed && jump(c.passed))
        .addTo(layers);
    }
    if (lls.length > 1)
      L.polyline(lls, { interactive: false, color: '#ffd24a', weight: 2, opacity: 0.22 }).addTo(layers);
    head = L.polyline([], { interactive: false, color: '#ffd24a', weight: 3, opacity: 0.95 }).addTo(layers);
    let n = 0;
    for (const e of d.events || []) {
      if (!Number.isFinite(e.lat) || n++ >= MAX_MAP_EVENTS) continue;
      const bad = VIOLATIONS.has(e.kind);
      L.circleMarker([e.lat, e.lon], { radius: bad ? 5 : 3.5, color: bad ? '#ff3b3b' : '#8fc3ff',
        weight: 1.5, fillOpacity: 0.5, className: 'rp-ev' })
        .bindTooltip(`${esc(words(e.kind))} · ${iso(e.ts)}`)
        .on('click', () => jump(e.ts)).addTo(layers);
    }
    for (const i of d.incidents || []) {
      if (!Number.isFinite(i.lat)) continue;
      L.circleMarker([i.lat, i.lon], { radius: 8, color: '#fff', weight: 2,
        fillColor: SEV_COLOUR[i.severity] || '#ff3b3b', fillOpacity: 0.9, className: 'rp-inc' })
        .bindTooltip(`#${i.id} ${esc(words(i.kind))} · ${esc(i.severity)} · ${iso(i.ts)}`)
        .on('click', () => jump(i.ts)).addTo(layers);
    }
    marker = L.marker(lls[0] || map.getCenter(), { keyboard: false, interactive: false, zIndexOffset: 1000,
      icon: L.divIcon({ className: 'rp-seal', iconSize: [22, 22], iconAnchor: [11, 11],
        html: '<svg viewBox="-11 -11 22 22"><circle r="8" fill="#ffd24a" stroke="#02131f" stroke-width="2.5"/>' +
          '<circle r="3" fill="#02131f"/></svg>' }) }).addTo(layers);
  }

  // The travelled track up to fix i, plus the seal's place pos: full chunks stay as they
  // are, only the last polyline changes.
  function drawTrack(i, pos) {
    const k = i < 0 ? 0 : Math.floor(i / CHUNK);
    while (done.length > k) done.pop().remove();
    while (done.length < k) {
      const c = done.length;
      done.push(L.polyline(lls.slice(c * CHUNK, (c + 1) * CHUNK + 1), { interactive: false,
        color: '#ffd24a', weight: 3, opacity: 0.95 }).addTo(layers));
    }
    const pts = i < 0 ? [] : lls.slice(k * CHUNK, i + 1);
    if (pos && i >= 0) pts.push(pos);
    head.setLatLngs(pts);
  }

  // ---- the clock ----
  function seek(x) {
    const d = R.data;
    if (!d) return;
    R.cur = Math.min(R.t1, Math.max(R.t0, x));
    const t = d.t, i = fixAt(t, R.cur);
    let pos = null;
    if (i >= 0) {
      const j = Math.min(i + 1, t.length - 1);
      const f = j > i ? (R.cur - t[i]) / (t[j] - t[i]) : 0;
      pos = L.latLng(d.lat[i] + (d.lat[j] - d.lat[i]) * f, d.lon[i] + (d.lon[j] - d.lon[i]) * f);
    } else if (lls.length) pos = lls[0];
    R.index = i; R.pos = pos;
    if (pos) marker.setLatLng(pos);
    drawTrack(i, pos);
    if (R.follow && pos) followTo(pos);
    showClock(i);
  }

  function followTo(pos) {
    const p = map.latLngToContainerPoint(pos), s = map.getSize();
    // keep the seal in the middle half of the view (above the dock): re-centre when it leaves
    const h = s.y - dock.offsetHeight;
    if (p.x < s.x * 0.25 || p.x > s.x * 0.75 || p.y < h * 0.25 || p.y > h * 0.75)
      map.panTo(pos, { animate: false });
  }

  function frame(now) {
    raf = 0;
    if (!R.playing) return;
    const dt = Math.min(0.25, (now - last) / 1000); // a hidden tab does not leap
    last = now;
    R.frames++;
    seek(R.cur + dt * R.speed);
    if (R.cur >= R.t1) return pause();
    raf = requestAnimationFrame(frame);
  }
  function play() {
    if (!R.data || !R.data.t.length) return;
    if (R.cur >= R.t1) seek(R.t0);
    R.playing = true; last = performance.now();
    if (!raf) raf = requestAnimationFrame(frame);
    showButtons();
  }
  function pause() {
    R.playing = false;
    cancelAnimationFrame(raf); raf = 0;
    showButtons();
  }
  // A mark's time, and its place in view.
  function jump(ts) {
    seek(ts);
    if (R.pos && !map.getBounds().pad(-0.1).contains(R.pos)) map.panTo(R.pos);
  }
  R.play = play; R.pause = pause; R.seek = seek; R.close = close;

  // ---- the dock: controls, timeline, chart ----
  function renderDock(title) {
    const d = R.data, span = Math.max(1, R.t1 - R.t0);
    const pct = ts => (100 * (ts - R.t0) / span).toFixed(3);
    const marks = [];
    for (const e of d.events || []) {
      if (e.ts < R.t0 || e.ts > R.t1) continue;
      marks.push(`<button type="button" class="rp-mark ev${VIOLATIONS.has(e.kind) ? ' bad' : ''}" ` +
        `style="left:${pct(e.ts)}%" data-ts="${e.ts}" data-kind="${esc(e.kind)}" ` +
        `title="${esc(words(e.kind))} · ${iso(e.ts)}"></button>`);
    }
    for (const i of d.incidents || []) {
      if (i.ts < R.t0 || i.ts > R.t1) continue;
      marks.push(`<button type="button" class="rp-mark inc" style="left:${pct(i.ts)}%;` +
        `border-bottom-color:${SEV_COLOUR[i.severity] || '#ff3b3b'}" data-ts="${i.ts}" data-id="${i.id}" ` +
        `data-kind="${esc(i.kind)}" title="#${i.id} ${esc(words(i.kind))} · ${esc(i.severity)} · ${iso(i.ts)}"></button>`);
    }
    const what = d.trip ? `trip <span class="mono">${esc(d.trip.id.slice(0, 8))}</span> · ` +
      `${esc(d.trip.plate)} · ${esc(d.trip.status)}` : `${(d.trips || []).length} trip(s) in the window`;
    dock.innerHTML =
      `<div class="rp-head"><b class="mono">${esc(d.seal_id)}</b><span class="rp-what">${what}</span>` +
      `<span class="rp-msg">${d.count.toLocaleString('en')} fixes` +
      (d.truncated ? ' (truncated)' : '') + ` · ${(d.events || []).length} events · ` +
      `${(d.incidents || []).length} incidents</span>` +
      `<button class="rp-x" type="button" aria-label="close replay" title="close">×</button></div>` +
      `<div class="rp-ctl">` +
      `<button type="button" class="rp-play" aria-label="play">▶</button>` +
      `<span class="rp-speeds">${SPEEDS.map(s =>
        `<button type="button" class="rp-speed" data-speed="${s}">×${s}</button>`).join('')}</span>` +
      `<label class="rp-follow-l"><input type="checkbox" class="rp-follow"> follow</label>` +
      `<span class="rp-time mono"></span><span class="rp-el mono"></span>` +
      `<span class="rp-kmh mono"></span></div>` +
      `<div class="rp-line"><div class="rp-marks">${marks.join('')}</div>` +
      `<input type="range" class="rp-slider" min="${R.t0}" max="${R.t1}" step="1" value="${R.t0}" ` +
      `aria-label="time"></div>` +
      `<svg class="rp-chart" preserveAspectRatio="none" aria-label="speed"></svg>` +
      (d.t.length ? '' : '<p class="rp-none">No fixes in this window.</p>');
    dock.querySelector('.rp-x').addEventListener('click', close);
    dock.querySelector('.rp-play').addEventListener('click', () => (R.playing ? pause() : play()));
    for (const b of dock.querySelectorAll('.rp-speed'))
      b.addEventListener('click', () => { R.speed = +b.dataset.speed; showButtons(); });
    const fol = dock.querySelector('.rp-follow');
    fol.checked = R.follow;
    fol.addEventListener('change', () => { R.follow = fol.checked; if (R.follow && R.pos) map.panTo(R.pos); });
    const sl = dock.querySelector('.rp-slider');
    sl.addEventListener('input', () => seek(+sl.value));
    for (const m of dock.querySelectorAll('.rp-mark'))
      m.addEventListener('click', () => jump(+m.dataset.ts));
    const svg = dock.querySelector('.rp-chart');
    svg.addEventListener('click', e => {
      const r = svg.getBoundingClientRect();
      seek(R.t0 + (e.clientX - r.left) / r.width * (R.t1 - R.t0));
    });
    showButtons();
  }

  function showButtons() {
    const p = dock.querySelector('.rp-play');
    if (!p) return;
    p.textContent = R.playing ? '❚❚' : '▶';
    p.setAttribute('aria-label', R.playing ? 'pause' : 'play');
    for (const b of dock.querySelectorAll('.rp-speed'))
      b.classList.toggle('on', +b.dataset.speed === R.speed);
  }

  function showClock(i) {
    const d = R.data, sl = dock.querySelector('.rp-slider');
    if (!sl) return;
    sl.value = Math.round(R.cur);
    dock.querySelector('.rp-time').textContent = iso(R.cur);
    dock.querySelector('.rp-el').textContent = elapsed(R.cur - R.t0);
    const v = i >= 0 ? d.speed[i] : null;
    dock.querySelector('.rp-kmh').textContent = v == null ? '— km/h' : `${Math.round(v)} km/h` +
      (d.fuel && d.fuel[i] != null ? ` · fuel ${Math.round(d.fuel[i])}` : '');
    if (chart) {
      const x = (R.cur - R.t0) / Math.max(1, R.t1 - R.t0) * chart.w;
      chart.cursor.setAttribute('x1', x); chart.cursor.setAttribute('x2', x);
    }
  }

  // The speed chart: one path of the highest speed per pixel column (and fuel, scaled to
  // its own range), drawn again only when the dock changes width.
  function drawChart() {
    const svg = dock.querySelector('.rp-chart');
    if (!svg || !R.data) return;
    const d = R.data, w = Math.max(50, Math.round(svg.getBoundingClientRect().width)), h = 56;
    svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
    const span = Math.max(1, R.t1 - R.t0);
    function columns(v) {
      const col = new Float64Array(w).fill(NaN);
      for (let i = 0; i < d.t.length; i++) {
        const y = v[i];
        if (y == null) continue;
        const x = Math.min(w - 1, Math.floor((d.t[i] - R.t0) / span * w));
        if (!(col[x] >= y)) col[x] = y;
      }
      return col;
    }
    function path(col, top) {
      let s = '', pen = false;
      for (let x = 0; x < w; x++) {
        if (Number.isNaN(col[x])) { pen = false; continue; }
        const y = (h - 2 - (col[x] / top) * (h - 12)).toFixed(1);
        s += (pen ? 'L' : 'M') + x + ' ' + y;
        pen = true;
      }
      return s;
    }
    const sp = columns(d.speed);
    let top = 0;
    for (const y of sp) if (y > top) top = y;
    top = Math.max(10, Math.ceil(top / 10) * 10);
    let body = `<line x1="0" x2="${w}" y1="${h - 2}" y2="${h - 2}" class="rp-axis"/>` +
      `<line x1="0" x2="${w}" y1="10" y2="10" class="rp-grid"/>` +
      `<path class="rp-sp" d="${path(sp, top)}"/>`;
    if (d.fuel) {
      const fu = columns(d.fuel);
      let ft = 0;
      for (const y of fu) if (y > ft) ft = y;
      body += `<path class="rp-fuel" d="${path(fu, Math.max(1, ft))}"/>`;
    }
    for (const i of d.incidents || [])
      if (i.ts >= R.t0 && i.ts <= R.t1) {
        const x = ((i.ts - R.t0) / span * w).toFixed(1);
        body += `<line class="rp-inc-l" x1="${x}" x2="${x}" y1="0" y2="${h}"/>`;
      }
    body += `<text x="4" y="9" class="rp-lbl">${top} km/h</text>` +
      (d.fuel ? `<text x="${w - 4}" y="9" class="rp-lbl rp-fuel-l" text-anchor="end">fuel</text>` : '') +
      `<line class="rp-cursor" x1="0" x2="0" y1="0" y2="${h}"/>`;
    svg.innerHTML = body;
    chart = { w, cursor: svg.querySelector('.rp-cursor') };
    showClock(R.index);
  }

  document.addEventListener('keydown', e => {
    if (!R.open || !R.data || e.target.closest('input[type=text],textarea')) return;
    if (e.key === ' ') { e.preventDefault(); R.playing ? pause() : play(); }
    else if (e.key === 'Escape') close();
  });

  window.corridorReplay = {
    trip: id => open(`/api/trips/${encodeURIComponent(id)}/replay`, `trip ${id}`),
    seal: (seal, from, to) => open(`/api/seals/${encodeURIComponent(seal)}/replay` +
      (from ? `?from=${encodeURIComponent(from)}` + (to ? `&to=${encodeURIComponent(to)}` : '') : ''),
      `seal ${seal}`),
    close,
  };
})();
