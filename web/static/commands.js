/*
 * commands.js: the seal's commands on the live map (docs/commands.md). Clicking a seal (its
 * popup opens) shows its commands (GET /api/seals/{id}/commands) with their states, newest
 * first, and the actions the centre may take: locate, set the report interval, send a text,
 * seal, unseal (with a reason; outside the destination it waits for a second officer), and
 * per command approve (awaiting approval) or cancel (not yet sent). Every {"type":"command"}
 * message on the websocket updates the list while it is open. A refusal of the server shows
 * in the panel with its reason. Loaded after map.js; uses window.corridor (the map, the seals,
 * onCommand). The API token is added to every request by auth.js.
 */
(function () {
  'use strict';

  const C = window.corridor;
  if (!C || !C.map) return;
  const map = C.map;

  const css = document.createElement('style');
  css.textContent = `
  #command-panel { position: absolute; bottom: 26px; left: 170px; z-index: 1001; width: 380px;
    max-height: 45%; overflow-y: auto; background: #0d1522f2; border: 1px solid #2b3b55;
    border-radius: 6px; box-shadow: 0 6px 24px #000a; padding: 8px 12px 10px; display: none; }
  #command-panel.open { display: block; }
  #command-panel h3 { margin: 0 0 6px; font-size: 14px; color: #e9f3ff; display: flex; gap: 8px; }
  #command-panel .x { margin-left: auto; background: none; border: 0; color: var(--dim);
    font-size: 18px; cursor: pointer; }
  #command-panel .actions { display: flex; flex-wrap: wrap; gap: 4px; margin-bottom: 6px; }
  #command-panel button.act { background: #16233a; color: #cfe3ff; border: 1px solid #2b3b55;
    border-radius: 4px; padding: 2px 8px; cursor: pointer; font-size: 12px; }
  #command-panel button.act:hover { background: #1f3152; }
  #command-panel ol { list-style: none; margin: 0; padding: 0; }
  #command-panel li { border-top: 1px solid #1d2a40; padding: 4px 0; font-size: 12px; }
  #command-panel .state { font-weight: 700; text-transform: uppercase; font-size: 10px;
    letter-spacing: .06em; padding: 1px 5px; border-radius: 3px; background: #1f2b3d; }
  #command-panel .state.confirmed, #command-panel .state.acknowledged { background: #123a26;
    color: var(--ok); }
  #command-panel .state.failed, #command-panel .state.expired { background: #3a1010;
    color: #ff8a8a; }
  #command-panel .state.awaiting_approval { background: #3a2a08; color: var(--warn); }
  #command-panel .meta { color: var(--dim); }
  #command-panel .error { color: #ff8a8a; margin: 4px 0; }`;
  document.head.appendChild(css);

  const panel = document.createElement('div');
  panel.id = 'command-panel';
  panel.setAttribute('aria-label', 'seal commands');
  document.body.appendChild(panel);

  const state = { seal: null, commands: new Map(), error: '' };
  C.commands = state;

  const esc = s => String(s == null ? '' : s).replace(/[&<>"']/g,
    c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

  function render() {
    if (!state.seal) { panel.className = ''; return; }
    panel.className = 'open';
    const items = [...state.commands.values()].sort((a, b) => b.id - a.id);
    panel.innerHTML = `<h3>Commands · ${esc(state.seal)}<button class="x" title="close">×</button></h3>` +
      `<div class="actions">` +
      `<button class="act" data-do="locate">Locate</button>` +
      `<button class="act" data-do="set_interval">Report interval…</button>` +
      `<button class="act" data-do="text">Text…</button>` +
      `<button class="act" data-do="seal">Seal…</button>` +
      `<button class="act" data-do="unseal">Unseal…</button></div>` +
      (state.error ? `<div class="error" role="alert">${esc(state.error)}</div>` : '') +
      `<ol>${items.map(c => `<li data-id="${c.id}" data-state="${esc(c.state)}">` +
        `<span class="state ${esc(c.state)}">${esc(c.state.replace(/_/g, ' '))}</span> ` +
        `<b>${esc(c.command)}</b> ${esc(Object.keys(c.params || {}).length ? JSON.stringify(c.params) : '')}` +
        `<div class="meta">#${c.id} · ${esc(c.requested_by)}` +
        (c.approved_by ? ` · approved by ${esc(c.approved_by)}` : '') +
        (c.detail ? ` · ${esc(c.detail)}` : '') + `</div>` +
        (c.state === 'awaiting_approval'
          ? `<button class="act" data-approve="${c.id}">Approve</button> ` : '') +
        (c.state === 'queued' || c.state === 'awaiting_approval'
          ? `<button class="act" data-cancel="${c.id}">Cancel</button>` : '') +
        `</li>`).join('')}</ol>` +
      (items.length ? '' : '<p class="meta">No commands yet.</p>');
  }

  async function load() {
    if (!state.seal) return;
    const r = await fetch(`/api/seals/${encodeURIComponent(state.seal)}/commands`);
    if (!r.ok) { state.error = `${r.status}: ${(await r.json().catch(() => ({}))).detail || ''}`; render(); return; }
    state.commands.clear();
    for (const c of await r.json()) put(c);
    render();
  }

  // A command as the newest word on it: the REST answer and the websocket's messages race,
  // and an older state must not overwrite a newer one (each change appends to the trail).
  function put(c) {
    const old = state.commands.get(c.id);
    if (old && (old.audit || []).length > (c.audit || []).length) return;
    state.commands.set(c.id, c);
  }

  async function call(method, path, body) {
    state.error = '';
    const r = await fetch(path, { method, headers: { 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined });
    const j = await r.json().catch(() => ({}));
    if (!r.ok) state.error = `${j.error || r.status}: ${j.detail || ''}`;
    else if (j.id != null && j.type === 'command') put(j);
    render();
  }

  panel.addEventListener('click', e => {
    const b = e.target.closest('button');
    if (!b || !state.seal) return;
    const base = `/api/seals/${encodeURIComponent(state.seal)}/commands`;
    if (b.classList.contains('x')) { state.seal = null; render(); return; }
    if (b.dataset.approve) return call('POST', `${base}/${b.dataset.approve}/approve`);
    if (b.dataset.cancel) return call('DELETE', `${base}/${b.dataset.cancel}`);
    const what = b.dataset.do;
    if (!what) return;
    const body = { command: what };
    if (what === 'set_interval') {
      const s = prompt('Report every how many seconds?', '30');
      if (s == null) return;
      body.params = { seconds: Number(s) };
    } else if (what === 'text') {
      const t = prompt('Text for the unit');
      if (t == null) return;
      body.params = { text: t };
    } else if (what === 'seal' || what === 'unseal') {
      const reason = prompt(`Why ${what}? (audited)`);
      if (reason == null) return;
      body.reason = reason;
    }
    call('POST', base, body);
  });

  // the websocket's command messages (map.js hands them here)
  C.onCommand = c => {
    if (!state.seal || c.seal_id !== state.seal) return;
    put(c);
    render();
  };

  map.on('popupopen', e => {
    for (const [id, s] of C.seals)
      if (s.marker && s.marker.getPopup() === e.popup) {
        if (state.seal !== id) { state.seal = id; state.error = ''; state.commands.clear(); }
        load();
        return;
      }
  });
})();
