/*
 * rru.js: the RRU page (rru.html?unit=ID) for unit tablets: the unit's queue of incidents
 * live over the websocket (/ws, corridor.v1: the snapshot's open incidents, then every
 * incident message), with Acknowledge, En route, On scene, Note and Resolve buttons that
 * go through POST /api/incidents/{id}/actions with the version shown. A new dispatch
 * beeps. State is in window.rru for the browser tests.
 */
(function () {
  'use strict';
  const OUTCOMES = ['confirmed', 'false_alarm', 'duplicate', 'handled_remotely', 'no_trace', 'other'];
  const params = new URLSearchParams(location.search);
  const st = { unit: params.get('unit') || '', incidents: new Map(), connected: false,
    messages: 0, beeps: 0, msg: {}, lastAction: null };
  window.rru = st;
  const $ = id => document.getElementById(id);
  $('unit').value = st.unit;
  $('pick').addEventListener('submit', ev => {
    ev.preventDefault();
    location.search = '?unit=' + encodeURIComponent($('unit').value.trim());
  });

  let ctx = null;
  function beep() {
    st.beeps++;
    try {
      ctx = ctx || new (window.AudioContext || window.webkitAudioContext)();
      const o = ctx.createOscillator(), g = ctx.createGain();
      o.frequency.value = 880;
      g.gain.value = 0.15;
      o.connect(g).connect(ctx.destination);
      o.start();
      o.stop(ctx.currentTime + 0.4);
    } catch (e) { /* no audio before a user gesture */ }
  }

  function mine(n) { return n.rru_id === st.unit && n.status !== 'resolved'; }
  function onIncident(n, live) {
    if (!n || n.id == null) return;
    const had = st.incidents.get(n.id);
    if (had && had.version > n.version) return;
    if (mine(n)) {
      if (live && (!had || had.status !== 'dispatched') && n.status === 'dispatched') beep();
      st.incidents.set(n.id, n);
    } else {
      st.incidents.delete(n.id);
    }
  }

  async function act(n, body) {
    body.version = n.version;
    st.msg[n.id] = { text: 'sending…' };
    render();
    try {
      const r = await fetch(`/api/incidents/${n.id}/actions`, { method: 'POST',
        headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      const res = await r.json();
      st.lastAction = { id: n.id, status: r.status, body: res };
      if (r.ok) {
        st.msg[n.id] = { text: `${body.action.replace('_', ' ')}: done` };
        onIncident(res, false);
      } else {
        st.msg[n.id] = { text: res.detail || res.error, error: true };
        if (res.incident) onIncident(res.incident, false);
      }
    } catch (e) {
      st.msg[n.id] = { text: 'network error: try again', error: true };
    }
    render();
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function btn(label, cls, fn) {
    const b = el('button', cls, label);
    b.type = 'button';
    b.dataset.action = label.toLowerCase().replace(/ /g, '_');
    b.addEventListener('click', fn);
    return b;
  }

  function render() {
    const now = Date.now();
    const items = [...st.incidents.values()].sort((a, b) =>
      (a.opened_at || '').localeCompare(b.opened_at || '') || a.id - b.id);
    $('queue').replaceChildren(...items.map(n => {
      const due = n.target_at ? Date.parse(n.target_at) : null;
      const late = due && !n.on_scene_at && now > due;
      const li = el('li', `sev-${n.severity}` + (late || n.breached ? ' breached' : ''));
      li.dataset.id = n.id;
      li.dataset.status = n.status;
      li.append(el('div', 'rule', `${n.severity.toUpperCase()} · ${n.rule.replace(/_/g, ' ')}`));
      li.append(el('div', 'meta', `#${n.id} · ${n.status.replace('_', ' ')} · ` +
        (n.seal_id ? `seal ${n.seal_id}` : n.mmsi ? `MMSI ${n.mmsi}` : '') +
        (Number.isFinite(n.lat) ? ` · ${n.lat.toFixed(4)}, ${n.lon.toFixed(4)}` : '')));
      if (due) li.append(el('div', 'meta target', late || n.breached
        ? `response target passed ${Math.round((now - due) / 60000)} min ago`
        : `on scene within ${Math.round((due - now) / 60000)} min`));
      const a = el('div', 'actions');
      if (n.status === 'dispatched') a.append(btn('Acknowledge', 'primary', () => act(n, { action: 'ack' })));
      if (['dispatched', 'acknowledged'].includes(n.status))
        a.append(btn('En route', '', () => act(n, { action: 'en_route' })));
      if (['dispatched', 'acknowledged', 'en_route'].includes(n.status))
        a.append(btn('On scene', '', () => act(n, { action: 'on_scene' })));
      const note = el('input');
      note.placeholder = 'note';
      note.maxLength = 2000;
      const outcome = el('select');
      OUTCOMES.forEach(o => { const op = el('option', null, o.replace(/_/g, ' ')); op.value = o; outcome.append(op); });
      a.append(note, btn('Add note', '', () => note.value.trim() && act(n, { action: 'note', note: note.value })),
        outcome, btn('Resolve', '', () => act(n, { action: 'resolve', outcome: outcome.value,
          note: note.value || undefined })));
      li.append(a);
      const m = st.msg[n.id];
      if (m) li.append(el('div', 'msg' + (m.error ? ' error' : ''), m.text));
      return li;
    }));
    $('empty').style.display = items.length ? 'none' : '';
    const s = $('status');
    s.className = 'status ' + (st.connected ? 'connected' : 'reconnecting');
    s.dataset.state = st.connected ? 'connected' : 'reconnecting';
    s.textContent = (st.connected ? 'live' : 'reconnecting…') + ` · ${items.length} in queue`;
  }

  async function loadUnit() {
    try {
      const units = await (await fetch('/api/rrus')).json();
      const u = units.find(x => x.id === st.unit);
      $('title').textContent = u ? `${u.name} (${u.id})` : `Unknown unit ${st.unit}`;
      $('unitinfo').textContent = u ? `status ${u.status.replace('_', ' ')}` +
        (u.position ? ` · last position ${u.position_at}` : '') : 'no such unit: check the id';
    } catch (e) { /* retried on the next message */ }
  }

  let backoff = 1000;
  function connect() {
    const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') +
      location.host + '/ws', 'corridor.v1');
    ws.onopen = () => { st.connected = true; backoff = 1000; render(); };
    ws.onmessage = ev => {
      let m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      st.messages++;
      if (m.type === 'snapshot') {
        st.incidents.clear();
        (m.incidents || []).forEach(n => onIncident(n, false));
      } else if (m.type === 'incident') {
        onIncident(m, true);
        if (m.rru_id === st.unit) loadUnit();
      }
      render();
    };
    ws.onclose = () => {
      st.connected = false;
      render();
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 10000);
    };
  }

  if (st.unit) {
    loadUnit();
    connect();
    setInterval(render, 30000);
  }
  render();
})();
