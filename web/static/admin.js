/*
 * admin.js: the accounts page (admin role; docs/security.md). Lists the officer accounts
 * (GET /api/users), creates one (POST /api/users), disables one or sets a new password
 * (POST /api/users/{name}/disable, /reset: both end its sessions), and lists and revokes a
 * user's sessions. auth.js adds the session's CSRF token (or the API token) to each call.
 */
(function () {
  'use strict';
  const msg = document.getElementById('msg');
  const tbody = document.querySelector('#users tbody');
  const sbox = document.getElementById('sessions-box');
  const sbody = document.querySelector('#sessions tbody');

  function say(text, isError) {
    msg.textContent = text;
    msg.className = isError ? 'error' : '';
  }
  function td(text, cls) {
    const c = document.createElement('td');
    c.textContent = text == null ? '' : String(text);
    if (cls) c.className = cls;
    return c;
  }
  function button(label, fn, cls) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    if (cls) b.className = cls;
    b.addEventListener('click', fn);
    return b;
  }
  async function call(method, path, body) {
    const r = await fetch(path, { method, headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined });
    const j = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(j.detail || `${method} ${path}: ${r.status}`);
    return j;
  }
  const enc = encodeURIComponent;

  async function load() {
    let users;
    try { users = await call('GET', '/api/users'); } catch (e) { return say(e.message, true); }
    tbody.replaceChildren();
    for (const u of users) {
      const tr = document.createElement('tr');
      tr.dataset.name = u.name;
      const state = u.disabled ? 'disabled' : u.locked_until ? 'locked' : 'active';
      tr.append(td(u.name, 'mono'), td(u.display_name), td(u.role), td(state, `state-${state}`),
        td(u.sessions), td((u.created_at || '').slice(0, 16).replace('T', ' '), 'mono'));
      const act = document.createElement('td');
      act.append(button('Sessions', () => sessions(u.name)), ' ',
        button('Reset password', () => reset(u.name)), ' ');
      if (!u.disabled) act.append(button('Disable', () => disable(u.name), 'danger'));
      tr.append(act);
      tbody.append(tr);
    }
  }

  async function disable(name) {
    if (!confirm(`Disable ${name}? Every session of the account ends now.`)) return;
    try { await call('POST', `/api/users/${enc(name)}/disable`); say(`${name} disabled; its sessions ended.`); }
    catch (e) { say(e.message, true); }
    load();
  }

  async function reset(name) {
    const pw = prompt(`New password for ${name} (at least 10 characters). Its sessions end.`);
    if (!pw) return;
    try { await call('POST', `/api/users/${enc(name)}/reset`, { password: pw }); say(`New password set for ${name}.`); }
    catch (e) { say(e.message, true); }
    load();
  }

  async function sessions(name) {
    let list;
    try { list = await call('GET', `/api/users/${enc(name)}/sessions`); } catch (e) { return say(e.message, true); }
    document.getElementById('sessions-of').textContent = name;
    sbody.replaceChildren();
    for (const s of list) {
      const tr = document.createElement('tr');
      const t = x => (x || '').slice(0, 19).replace('T', ' ');
      tr.append(td(s.id, 'mono'), td(t(s.created_at), 'mono'), td(t(s.last_seen), 'mono'),
        td(t(s.expires_at), 'mono'), td(s.ip, 'mono'), td(s.user_agent));
      const act = document.createElement('td');
      act.append(button('Revoke', async () => {
        try { await call('DELETE', `/api/users/${enc(name)}/sessions/${s.id}`); say(`Session ${s.id} of ${name} revoked.`); }
        catch (e) { say(e.message, true); }
        sessions(name);
        load();
      }, 'danger'));
      tr.append(act);
      sbody.append(tr);
    }
    if (!list.length) sbody.append(Object.assign(document.createElement('tr'), { textContent: 'No open session.' }));
    sbox.hidden = false;
  }

  document.getElementById('create').addEventListener('submit', async e => {
    e.preventDefault();
    const f = e.target, body = {};
    for (const k of ['name', 'display_name', 'role', 'password']) body[k] = f.elements[k].value;
    try { await call('POST', '/api/users', body); say(`Account ${body.name} created.`); f.reset(); }
    catch (err) { say(err.message, true); }
    load();
  });

  load();
})();
