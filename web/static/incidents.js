/*
 * incidents.js: the control room's incident panel on the map page. Takes over the
 * rendering of #incidents from map.js (window.corridor.renderIncidents): incidents
 * sorted by severity, then age (oldest first); acknowledge, assign a unit (the nearest
 * available suggested first, GET /api/rrus/suggest), add a note, resolve with an outcome,
 * all through POST /api/incidents/{id}/actions with the version the officer saw (a 409
 * shows who was first and the current state). Every screen updates from the websocket's
 * incident messages. A WebAudio beep sounds for each new critical incident (mute toggle,
 * remembered in localStorage), and the 60-minute response target is counted down live,
 * breaches flagged. docs/incidents.md describes it for officers.
 */
(function () {
  'use strict';
  const state = window.corridor;
  if (!state) return;
  const SEV = { critical: 0, high: 1, medium: 2, low: 3 };
  const OUTCOMES = ['confirmed', 'false_alarm', 'duplicate', 'handled_remotely', 'no_trace', 'other'];
  const list = document.getElementById('incidents');
  const ui = {
    muted: localStorage.getItem('corridor.muted') === '1',
    beeps: 0,            // beeps played (the browser tests read it)
    heard: new Set(),    // critical incidents already announced
    form: null,          // {id, kind} of the open form, kept across re-renders
    draft: {},           // what the officer typed, by field
    suggestions: {},     // incident id -> [{unit, distance_m}]
    message: {},         // incident id -> {text, error}
    lastAction: null,    // {id, status, body} of the last answer (tests)
  };
  state.incidentsUI = ui;

  // ---- styles (kept with the panel that uses them) ----
  const css = document.createElement('style');
  css.textContent = `
#panel h2 .mute { float: right; font-size: 11px; letter-spacing: 0; text-transform: none;
  background: #1f2b3d; color: var(--text); border: 1px solid #2b3b55; border-radius: 3px;
  cursor: pointer; padding: 1px 6px; }
#incidents li .target { font-family: "DejaVu Sans Mono", monospace; font-size: 11px; }
#incidents li.breached { box-shadow: inset 0 0 0 1px var(--crit); }
#incidents li.breached .target { color: var(--crit); font-weight: 700; }
#incidents li .actions { display: flex; flex-wrap: wrap; gap: 4px; margin-top: 5px; }
#incidents li button, #incidents li select, #incidents li input {
  font: inherit; font-size: 11px; background: #1a2740; color: var(--text);
  border: 1px solid #2b3b55; border-radius: 3px; padding: 2px 6px; }
#incidents li button:hover { background: #24365a; }
#incidents li button.primary { border-color: #4a86d8; }
#incidents li .form { margin-top: 5px; display: flex; flex-wrap: wrap; gap: 4px; }
#incidents li .form input { flex: 1 1 160px; }
#incidents li .msg { font-size: 11px; margin-top: 4px; color: var(--ok); }
#incidents li .msg.error { color: var(--warn); }
#incidents li .unit { color: #8fc3ff; }`;
  document.head.appendChild(css);

  // ---- mute toggle and the beep ----
  const h2 = document.querySelector('#panel h2');
  const mute = document.createElement('button');
  mute.className = 'mute';
  mute.id = 'mute';
  const showMute = () => {
    mute.textContent = ui.muted ? 'sound: muted' : 'sound: on';
    mute.setAttribute('aria-pressed', ui.muted ? 'true' : 'false');
  };
  mute.addEventListener('click', ev => {
    ev.stopPropagation();
    ui.muted = !ui.muted;
    localStorage.setItem('corridor.muted', ui.muted ? '1' : '0');
    showMute();
    audio();
  });
  showMute();
  if (h2) h2.appendChild(mute);

  let ctx = null;
  function audio() {
    // browsers start audio only after a user gesture: create (or resume) it on one
    try {
      if (!ctx) ctx = new (window.AudioContext || window.webkitAudioContext)();
      if (ctx.state === 'suspended') ctx.resume();
    } catch (e) { ctx = null; }
    return ctx;
  }
  document.addEventListener('click', audio, { once: true });

  function beep() {
    ui.beeps++;
    if (ui.muted) return;
    const a = audio();
    if (!a) return;
    const t = a.currentTime;
    for (let i = 0; i < 3; i++) {
      const o = a.createOscillator(), g = a.createGain();
      o.type = 'square';
      o.frequency.value = i === 1 ? 660 : 880;
      g.gain.setValueAtTime(0.0001, t + i * 0.22);
      g.gain.exponentialRampToValueAtTime(0.2, t + i * 0.22 + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, t + i * 0.22 + 0.18);
      o.connect(g).connect(a.destination);
      o.start(t + i * 0.22);
      o.stop(t + i * 0.22 + 0.2);
    }
  }

  // ---- the response target ----
  function target(n, now) {
    if (!n.target_at) return null;
    const due = Date.parse(n.target_at);
    const done = n.on_scene_at || n.resolved_at;
    const breached = n.breached || (!done && now > due) || (done && Date.parse(done) > due);
    const mins = Math.round(Math.abs(due - now) / 60000);
    let text;
    if (done) text = breached ? 'target missed' : 'target met';
    else if (breached) text = `BREACHED +${mins} min`;
    else text = `${mins} min to target`;
    return { breached, text };
  }

  // ---- actions ----
  async function act(n, body) {
    body.version = n.version;
    ui.message[n.id] = { text: 'sending…' };
    render(null);
    let r, res;
    try {
      r = await fetch(`/api/incidents/${n.id}/actions`, { method: 'POST',
        headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      res = await r.json();
    } catch (e) {
      ui.message[n.id] = { text: 'network error: try again', error: true };
      return render(null);
    }
    ui.lastAction = { id: n.id, status: r.status, body: res };
    if (r.ok) {
      ui.form = null;
      ui.draft = {};
      ui.message[n.id] = { text: `${body.action} done` };
      apply(res);
    } else {
      ui.message[n.id] = { text: res.detail || res.error || `error ${r.status}`, error: true };
      if (res.incident) apply(res.incident); // the current state: the officer sees why
      else render(null);
    }
  }

  function apply(n) {
    if (!n || n.id == null) return;
    const old = state.incidents.get(n.id);
    if (old && old.version > n.version) return; // an older message than the one shown
    if (n.status === 'resolved') state.incidents.delete(n.id);
    else state.incidents.set(n.id, n);
    render(null);
  }

  async function loadSuggestions(n) {
    try {
      const r = await fetch(`/api/rrus/suggest?incident=${n.id}`);
      ui.suggestions[n.id] = r.ok ? await r.json() : [];
    } catch (e) {
      ui.suggestions[n.id] = [];
    }
    render(null);
  }

  // ---- rendering ----
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else if (k.startsWith('data-')) e.setAttribute(k, v);
      else e[k] = v;
    }
    if (text != null) e.textContent = text;
    return e;
  }
  function button(label, cls, fn) {
    const b = el('button', { class: cls || '', type: 'button' }, label);
    b.addEventListener('click', ev => { ev.stopPropagation(); fn(); });
    return b;
  }
  function fmtTime(t) {
    if (!t) return '';
    return t.slice(0, 10) === new Date().toISOString().slice(0, 10)
      ? t.slice(11, 19) + 'Z' : t.slice(0, 16).replace('T', ' ') + 'Z';
  }
  function openForm(n, kind) {
    ui.form = ui.form && ui.form.id === n.id && ui.form.kind === kind ? null : { id: n.id, kind };
    ui.draft = {};
    if (ui.form && kind === 'assign') loadSuggestions(n);
    render(null);
  }

  function form(n) {
    const f = el('div', { class: 'form', 'data-form': ui.form.kind });
    f.addEventListener('click', ev => ev.stopPropagation());
    const note = el('input', { type: 'text', placeholder: 'note', maxLength: 2000,
      value: ui.draft.note || '', name: 'note' });
    note.addEventListener('input', () => { ui.draft.note = note.value; });
    if (ui.form.kind === 'assign') {
      const sel = el('select', { name: 'rru' });
      const sug = ui.suggestions[n.id];
      if (!sug) sel.appendChild(el('option', { value: '' }, 'finding units…'));
      else if (!sug.length) sel.appendChild(el('option', { value: '' }, 'no unit available'));
      else sug.forEach(s => sel.appendChild(el('option', { value: s.unit.id },
        `${s.unit.id} · ${s.unit.name}` +
        (s.distance_m != null ? ` · ${(s.distance_m / 1000).toFixed(1)} km` : ''))));
      if (ui.draft.rru) sel.value = ui.draft.rru;
      sel.addEventListener('change', () => { ui.draft.rru = sel.value; });
      f.append(sel, note, button('Dispatch', 'primary', () => {
        if (!sel.value) return;
        act(n, { action: 'assign', rru_id: sel.value, note: note.value || undefined });
      }));
    } else if (ui.form.kind === 'note') {
      f.append(note, button('Add note', 'primary', () => {
        if (note.value.trim()) act(n, { action: 'note', note: note.value });
      }));
    } else if (ui.form.kind === 'resolve') {
      const sel = el('select', { name: 'outcome' });
      OUTCOMES.forEach(o => sel.appendChild(el('option', { value: o }, o.replace(/_/g, ' '))));
      if (ui.draft.outcome) sel.value = ui.draft.outcome;
      sel.addEventListener('change', () => { ui.draft.outcome = sel.value; });
      f.append(sel, note, button('Resolve', 'primary', () =>
        act(n, { action: 'resolve', outcome: sel.value, note: note.value || undefined })));
    }
    return f;
  }

  function item(n, freshId, now) {
    const t = target(n, now);
    const li = el('li', { class: `sev-${n.severity}` + (n.id === freshId ? ' fresh' : '') +
      (t && t.breached ? ' breached' : ''), 'data-id': n.id, 'data-rule': n.rule,
      'data-seal': n.seal_id || '', 'data-status': n.status, 'data-version': n.version });
    const subject = n.seal_id ? `seal ${n.seal_id}` : n.mmsi ? `MMSI ${n.mmsi}` : '';
    const where = n.details && n.details.fence ? ` · ${n.details.fence}` : '';
    const row = el('div', { class: 'row' });
    row.append(el('span', { class: 'sev' }, n.severity), el('span', { class: 'meta' },
      fmtTime(n.opened_at)));
    li.append(row, el('div', { class: 'rule' }, n.rule.replace(/_/g, ' ')));
    const meta = el('div', { class: 'meta' }, `${subject}${where} · #${n.id} · ${n.status}` +
      (n.event_count > 1 ? ` · ${n.event_count}×` : ''));
    if (n.rru_id) meta.append(' · ', el('span', { class: 'unit' }, `unit ${n.rru_id}`));
    li.appendChild(meta);
    if (t) li.appendChild(el('div', { class: 'target' }, t.text));

    const acts = el('div', { class: 'actions' });
    if (n.status === 'open' || n.status === 'dispatched')
      acts.appendChild(button('Acknowledge', 'primary', () => act(n, { action: 'ack' })));
    if (['open', 'dispatched', 'acknowledged'].includes(n.status))
      acts.appendChild(button(n.rru_id ? 'Reassign' : 'Assign unit', '', () => openForm(n, 'assign')));
    acts.appendChild(button('Note', '', () => openForm(n, 'note')));
    acts.appendChild(button('Resolve', '', () => openForm(n, 'resolve')));
    li.appendChild(acts);
    if (ui.form && ui.form.id === n.id) li.appendChild(form(n));
    const m = ui.message[n.id];
    if (m) li.appendChild(el('div', { class: 'msg' + (m.error ? ' error' : '') }, m.text));
    li.addEventListener('click', () => {
      if (state.map && Number.isFinite(n.lat))
        state.map.setView([n.lat, n.lon], Math.max(state.map.getZoom(), 9));
    });
    return li;
  }

  function render(freshId) {
    const now = Date.now();
    // announce new critical incidents once each
    for (const n of state.incidents.values())
      if (n.severity === 'critical' && !ui.heard.has(n.id)) {
        ui.heard.add(n.id);
        if (freshId === n.id && n.status === 'open') beep();
      }
    const items = [...state.incidents.values()].sort((a, b) =>
      (SEV[a.severity] ?? 9) - (SEV[b.severity] ?? 9) ||
      (a.opened_at || '').localeCompare(b.opened_at || '') || a.id - b.id);
    // keep the focus and caret of a field being typed in
    const active = document.activeElement, field = active && active.name,
      caret = active && active.selectionStart;
    list.replaceChildren(...items.map(n => item(n, freshId, now)));
    if (field && ui.form) {
      const again = list.querySelector(`li[data-id="${ui.form.id}"] [name="${field}"]`);
      if (again) {
        again.focus();
        if (caret != null && again.setSelectionRange) again.setSelectionRange(caret, caret);
      }
    }
    document.getElementById('incident-count').textContent = items.length;
    document.getElementById('no-incidents').style.display = items.length ? 'none' : '';
  }

  state.renderIncidents = render;
  render(null);
  setInterval(() => render(null), 15000); // the target countdown, live
})();
