/*
 * commands.js: a seal's commands (docs/commands.md), rendered wherever a page needs them.
 *
 * window.corridorCommands.mount(el, sealId) renders into el the seal's commands
 * (GET /api/seals/{id}/commands) with their states, newest first, and the actions the signed-in
 * role may take (GET /api/me, asked once): officers, arming teams and admins may locate, set
 * the report interval, send a text, seal and unseal (with a reason; outside the destination it
 * waits for a second officer) and cancel a command not yet sent; only officers and admins see
 * Approve, and not on their own requests (four eyes: the server refuses those too). rru and
 * partner tokens get no actions and no list (the server refuses them the commands). A refusal
 * of the server shows in the view with its reason. It returns the view: {seal, commands,
 * load(), put(c), render(), unmount()}. Every {"type":"command"} message on the websocket
 * (map.js hands them to corridor.onCommand) updates every mounted view of its seal.
 *
 * On the live map it also keeps the seal's command panel (#command-panel), opened by a click on
 * a seal; trips.js mounts a second view in the trip panel and closes this one while the seal has
 * an armed trip. The API token is added to every request by auth.js.
 */
(function () {
  'use strict';

  const css = document.createElement('style');
  css.textContent = `
  .cmds .actions { display: flex; flex-wrap: wrap; gap: 4px; margin-bottom: 6px; }
  .cmds button.act { background: #16233a; color: #cfe3ff; border: 1px solid #2b3b55;
    border-radius: 4px; padding: 2px 8px; cursor: pointer; font-size: 12px; min-height: 0;
    font-weight: 400; }
  .cmds button.act:hover { background: #1f3152; }
  .cmds button.act:disabled { opacity: .45; cursor: not-allowed; }
  .cmds ol { list-style: none; margin: 0; padding: 0; }
  .cmds li { display: block; border-top: 1px solid #1d2a40; padding: 4px 0; font-size: 12px; }
  .cmds .state { font-weight: 700; text-transform: uppercase; font-size: 10px;
    letter-spacing: .06em; padding: 1px 5px; border-radius: 3px; background: #1f2b3d; }
  .cmds .state.confirmed, .cmds .state.acknowledged { background: #123a26; color: var(--ok); }
  .cmds .state.failed, .cmds .state.expired { background: #3a1010; color: #ff8a8a; }
  .cmds .state.awaiting_approval { background: #3a2a08; color: var(--warn); }
  .cmds .meta { color: var(--dim); }
  .cmds .error { color: #ff8a8a; margin: 4px 0; }
  #command-panel { position: absolute; bottom: 26px; left: 170px; z-index: 1001; width: 380px;
    max-height: 45%; overflow-y: auto; background: #0d1522f2; border: 1px solid #2b3b55;
    border-radius: 6px; box-shadow: 0 6px 24px #000a; padding: 8px 12px 10px; display: none; }
  #command-panel.open { display: block; }
  #command-panel h3 { margin: 0 0 6px; font-size: 14px; color: #e9f3ff; display: flex; gap: 8px; }
  #command-panel .x { margin-left: auto; background: none; border: 0; color: var(--dim);
    font-size: 18px; cursor: pointer; }`;
  document.head.appendChild(css);

  const esc = s => String(s == null ? '' : s).replace(/[&<>"']/g,
    c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

  // What a role may do with commands; the route table in web/rest.c is the authority.
  const MAY = {
    admin: { read: true, request: true, approve: true },
    officer: { read: true, request: true, approve: true },
    arming: { read: true, request: true, approve: false },
  };
  const NOTHING = { read: false, request: false, approve: false };
  let me = null;
  function whoAmI() {
    if (!me)
      me = fetch('/api/me').then(r => (r.ok ? r.json() : {})).catch(() => ({}))
        .then(j => Object.assign({ role: null, actor: null }, j, { may: MAY[j.role] || NOTHING }));
    return me;
  }

  const views = new Set();
  const RANK = { awaiting_approval: 0, queued: 1, sent: 2, acknowledged: 3 }; // others: final
  function newer(c, old) {
    if ((c.updated_at || '') !== (old.updated_at || ''))
      return (c.updated_at || '') > (old.updated_at || '');
    const n = (c.audit || []).length, o = (old.audit || []).length;
    if (n !== o) return n > o;
    const rank = x => (x.state in RANK ? RANK[x.state] : 4);
    return rank(c) >= rank(old);
  }

  function mount(el, seal) {
    const v = { seal, commands: new Map(), error: '', who: null, el };
    el.classList.add('cmds');
    const base = () => `/api/seals/${encodeURIComponent(v.seal)}/commands`;

    v.render = function () {
      const who = v.who;
      if (!who) { el.innerHTML = '<p class="meta">…</p>'; return; }
      if (!who.may.read) {
        el.innerHTML = `<p class="meta">Commands are not shown to the ${esc(who.role || 'anonymous')} role.</p>`;
        return;
      }
      const may = who.may;
      const items = [...v.commands.values()].sort((a, b) => b.id - a.id);
      el.innerHTML = (may.request ? `<div class="actions">` +
        `<button class="act" data-do="locate">Locate</button>` +
        `<button class="act" data-do="set_interval">Report interval…</button>` +
        `<button class="act" data-do="text">Text…</button>` +
        `<button class="act" data-do="seal">Seal…</button>` +
        `<button class="act" data-do="unseal">Unseal…</button></div>` : '') +
        (v.error ? `<div class="error" role="alert">${esc(v.error)}</div>` : '') +
        `<ol>${items.map(c => {
          const own = c.requested_by && c.requested_by === who.actor;
          return `<li data-id="${c.id}" data-state="${esc(c.state)}">` +
            `<span class="state ${esc(c.state)}">${esc(c.state.replace(/_/g, ' '))}</span> ` +
            `<b>${esc(c.command)}</b> ${esc(Object.keys(c.params || {}).length ? JSON.stringify(c.params) : '')}` +
            `<div class="meta">#${c.id} · ${esc(c.requested_by)}` +
            (c.reason ? ` · “${esc(c.reason)}”` : '') +
            (c.approved_by ? ` · approved by ${esc(c.approved_by)}` : '') +
            (c.detail ? ` · ${esc(c.detail)}` : '') + `</div>` +
            (c.state === 'awaiting_approval' && may.approve
              ? `<button class="act" data-approve="${c.id}"` + (own
                ? ' disabled title="four eyes: another officer must approve your own request"' : '') +
                `>Approve</button> ` : '') +
            (may.request && (c.state === 'queued' || c.state === 'awaiting_approval')
              ? `<button class="act" data-cancel="${c.id}">Cancel</button>` : '') +
            (c.state === 'awaiting_approval' && own ? ' <span class="meta">needs another officer</span>' : '') +
            `</li>`;
        }).join('')}</ol>` +
        (items.length ? '' : '<p class="meta">No commands yet.</p>');
    };

    // A command as the newest word on it: the REST answer and the websocket's messages race,
    // and an older state must not overwrite a newer one. Each change is its own transaction,
    // which sets updated_at; within one, the longer trail, then the later state wins.
    v.put = function (c) {
      const old = v.commands.get(c.id);
      if (!old || newer(c, old)) v.commands.set(c.id, c);
    };

    v.load = async function () {
      v.who = await whoAmI();
      if (!views.has(v)) return;
      if (!v.who.may.read) return v.render();
      const seal = v.seal;
      const r = await fetch(base());
      if (seal !== v.seal || !views.has(v)) return;
      if (!r.ok) {
        v.error = `${r.status}: ${(await r.json().catch(() => ({}))).detail || ''}`;
        return v.render();
      }
      v.commands.clear();
      for (const c of await r.json()) v.put(c);
      v.render();
    };

    async function call(method, path, body) {
      v.error = '';
      const r = await fetch(path, { method, headers: { 'content-type': 'application/json' },
        body: body ? JSON.stringify(body) : undefined });
      const j = await r.json().catch(() => ({}));
      if (!r.ok) v.error = `${j.error || r.status}: ${j.detail || ''}`;
      else if (j.id != null && j.type === 'command') v.put(j);
      v.render();
    }

    function onClick(e) {
      const b = e.target.closest('button');
      if (!b || !el.contains(b) || b.disabled) return;
      if (b.dataset.approve) return call('POST', `${base()}/${b.dataset.approve}/approve`);
      if (b.dataset.cancel) return call('DELETE', `${base()}/${b.dataset.cancel}`);
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
      call('POST', base(), body);
    }
    el.addEventListener('click', onClick);

    // Shows another seal in the same element.
    v.show = function (s) {
      if (s !== v.seal) { v.seal = s; v.commands.clear(); v.error = ''; }
      return v.load();
    };
    v.unmount = function () {
      views.delete(v);
      el.removeEventListener('click', onClick);
      el.innerHTML = '';
    };

    views.add(v);
    v.render();
    v.load().catch(e => console.error('commands', e));
    return v;
  }

  window.corridorCommands = { mount, whoAmI };

  // ---- the live map: the websocket's messages, and the seal's command panel ----
  const C = window.corridor;
  if (!C || !C.map) return;

  // map.js hands over the websocket's command messages
  C.onCommand = c => {
    for (const v of views)
      if (v.seal === c.seal_id) { v.put(c); v.render(); }
  };

  const panel = document.createElement('div');
  panel.id = 'command-panel';
  panel.setAttribute('aria-label', 'seal commands');
  panel.innerHTML = '<h3><span class="title"></span><button class="x" title="close">×</button></h3><div></div>';
  document.body.appendChild(panel);
  const state = { seal: null, view: null };
  C.commands = state;

  state.close = () => {
    panel.className = '';
    if (state.view) state.view.unmount();
    state.view = null;
    state.seal = null;
  };
  panel.querySelector('.x').addEventListener('click', state.close);

  C.map.on('popupopen', e => {
    for (const [id, s] of C.seals)
      if (s.marker && s.marker.getPopup() === e.popup) {
        state.seal = id;
        panel.querySelector('.title').textContent = `Commands · ${id}`;
        panel.className = 'open';
        if (state.view) state.view.show(id);
        else state.view = mount(panel.lastElementChild, id);
        return;
      }
  });
})();
