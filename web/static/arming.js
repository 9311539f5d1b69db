/*
 * arming.js: the arming page (arming.html) for teams at a release point, on a tablet.
 * Lists the seals, routes and geofences, arms a trip with POST /api/trips and shows each
 * refusal beside the field the server names ("field" of the error body); lists the armed
 * trips with a disarm button (POST /api/trips/{id}/disarm; a refusal outside the
 * destination is shown on the row) and a Commands button that shows the seal's commands
 * below the row with the actions an arming team may take (commands.js's view; refreshed every
 * few seconds, as an arming token has no websocket). The container number is checked here too (ISO 6346
 * check digit) as a hint while typing; the server's answer is what counts.
 * State is exposed as window.arming for the browser tests.
 *
 * The API token is auth.js's business (loaded first): it takes ?token= or #token= from the
 * address, keeps it, and adds it to every /api request made with fetch.
 */
(function () {
  'use strict';

  const $ = id => document.getElementById(id);
  const form = $('arm-form');
  const state = { seals: [], routes: [], fences: [], trips: [], last: null,
    commands: new Map() }; // seal -> {row, view} of the open command views
  const COMMANDS_REFRESH_MS = 3000;
  window.arming = state;
  const RELEASE_KINDS = ['port', 'customs_office'];
  // server fields -> the form field that shows them
  const FIELD_OF = { conveyance: 'plate', exit_border_post_id: 'route_id' };

  function esc(s) {
    return String(s == null ? '' : s).replace(/[&<>"']/g,
      c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  }
  function when(t) { return t ? t.slice(0, 16).replace('T', ' ') + 'Z' : '—'; }

  function api(url, opts = {}) {
    const headers = new Headers(opts.headers || {});
    headers.set('Accept', 'application/json');
    return fetch(url, { ...opts, headers });
  }

  async function getJSON(url) {
    const r = await api(url);
    if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
    return r.json();
  }

  // ---- ISO 6346 ----
  // Letters count from A = 10 upwards, skipping multiples of 11 (11, 22, 33).
  const LETTER = {};
  for (let i = 0, v = 10; i < 26; i++, v++) {
    if (v % 11 === 0) v++;
    LETTER[String.fromCharCode(65 + i)] = v;
  }
  function iso6346(raw) {
    const c = raw.toUpperCase().replace(/[\s-]/g, '');
    if (!c) return { state: 'empty' };
    if (!/^[A-Z]{3}[UJZ][0-9]{6}[0-9]?$/.test(c))
      return { state: 'invalid', why: 'owner code (3 letters), U/J/Z, 6 digits, check digit' };
    if (c.length === 10) return { state: 'partial', why: 'add the check digit' };
    let sum = 0;
    for (let i = 0; i < 10; i++) {
      const ch = c[i];
      let v;
      if (ch >= '0' && ch <= '9') v = ch.charCodeAt(0) - 48;
      else v = LETTER[ch];
      sum += v * (1 << i);
    }
    const digit = (sum % 11) % 10;
    if (digit !== Number(c[10])) return { state: 'check', why: `check digit should be ${digit}` };
    return { state: 'ok', normalised: c };
  }
  state.iso6346 = iso6346;

  function containerHint() {
    const h = $('container-hint');
    const r = iso6346($('container').value);
    h.className = 'hint' + (r.state === 'ok' ? ' ok' : r.state === 'empty' ? '' : ' warn');
    h.textContent = r.state === 'ok' ? `✓ valid ISO 6346 number ${r.normalised}`
      : r.state === 'empty' ? 'owner code, U/J/Z, 6 digits, check digit' : r.why;
  }

  // ---- lists ----
  function options(sel, items, label, placeholder) {
    const keep = sel.value;
    sel.replaceChildren(new Option(placeholder, ''),
      ...items.map(i => new Option(label(i), String(i.id))));
    if ([...sel.options].some(o => o.value === keep)) sel.value = keep;
  }

  async function loadLists() {
    const [seals, routes, fc] = await Promise.all([getJSON('/api/seals'),
      getJSON('/api/routes'), getJSON('/api/geofences')]);
    state.seals = seals;
    state.routes = routes;
    state.fences = fc.features.map(f => f.properties);
    const armed = new Set(state.trips.map(t => t.seal_id));
    options($('seal_id'), seals, s => s.id + (armed.has(s.id) ? '  (armed)' : ''), 'choose a seal…');
    options($('route_id'), routes, r => `${r.name}`, 'choose a route…');
    const byName = (a, b) => a.name.localeCompare(b.name);
    options($('origin_id'), state.fences.filter(f => RELEASE_KINDS.includes(f.kind)).sort(byName),
      f => `${f.name}`, 'release point…');
    options($('destination_id'), [...state.fences].sort(byName),
      f => `${f.name} (${f.kind.replace('_', ' ')})`, 'destination…');
    routeHint();
  }

  function routeHint() {
    const r = state.routes.find(x => String(x.id) === $('route_id').value);
    $('route-hint').textContent = r
      ? `corridor ${r.corridor_m} m · max transit ${Math.round(r.max_transit_minutes / 60 * 10) / 10} h` +
        (r.checkpoints.length ? ' · checkpoints: ' + r.checkpoints.map(c => c.name).join(' → ') : '')
      : '';
  }

  async function loadTrips() {
    state.trips = await getJSON('/api/trips');
    const body = $('trips').tBodies[0];
    body.replaceChildren(...state.trips.map(t => {
      const tr = document.createElement('tr');
      tr.dataset.id = t.id;
      tr.dataset.seal = t.seal_id;
      const late = t.deadline && t.deadline < new Date().toISOString();
      tr.innerHTML =
        `<td><b>${esc(t.seal_id)}</b><div class="sub mono">${esc(t.conveyance.plate)} · ` +
        `${esc(t.conveyance.container)}</div><div class="sub">${esc(t.declaration)}</div></td>` +
        `<td>${esc(t.route)}<div class="sub">${esc(t.origin)} → ${esc(t.destination)}</div>` +
        `<div class="sub"${late ? ' style="color:var(--warn)"' : ''}>deadline ` +
        `${when(t.deadline)}</div></td>` +
        `<td><button class="danger" type="button">Disarm</button> ` +
        `<button class="cmd" type="button" aria-expanded="false">Commands</button></td>`;
      tr.querySelector('button.danger').addEventListener('click', ev => disarm(t, tr, ev.target));
      tr.querySelector('button.cmd').addEventListener('click', () => toggleCommands(t.seal_id, tr));
      return tr;
    }));
    $('no-trips').style.display = state.trips.length ? 'none' : '';
    // the rows were rebuilt: the command views open before follow their seal's new row
    for (const [seal, c] of [...state.commands]) {
      c.view.unmount();
      state.commands.delete(seal);
      const tr = body.querySelector(`tr[data-seal="${CSS.escape(seal)}"]`);
      if (tr) toggleCommands(seal, tr);
    }
  }

  // The seal's commands in a row below its trip (commands.js); a second click closes them.
  function toggleCommands(seal, tr) {
    const open = state.commands.get(seal);
    const btn = tr.querySelector('button.cmd');
    if (open) {
      open.view.unmount();
      open.row.remove();
      state.commands.delete(seal);
      btn.setAttribute('aria-expanded', 'false');
      return;
    }
    const row = document.createElement('tr');
    row.className = 'cmdrow';
    row.dataset.seal = seal;
    row.innerHTML = '<td colspan="3"><div class="commands"></div></td>';
    tr.after(row);
    const view = window.corridorCommands.mount(row.querySelector('.commands'), seal);
    state.commands.set(seal, { row, view });
    btn.setAttribute('aria-expanded', 'true');
  }
  setInterval(() => {
    for (const { view } of state.commands.values()) view.load().catch(() => {});
  }, COMMANDS_REFRESH_MS);

  async function disarm(t, tr, btn) {
    btn.disabled = true;
    const r = await api(`/api/trips/${encodeURIComponent(t.id)}/disarm`, { method: 'POST' });
    const body = await r.json().catch(() => ({}));
    btn.disabled = false;
    let msg = tr.nextElementSibling && tr.nextElementSibling.classList.contains('msgrow')
      ? tr.nextElementSibling : null;
    if (!msg) {
      msg = document.createElement('tr');
      msg.className = 'msgrow';
      msg.innerHTML = '<td colspan="3" class="msg"></td>';
      tr.after(msg);
    }
    const cell = msg.firstChild;
    if (r.ok) {
      cell.className = 'msg ok';
      cell.textContent = `Disarmed at ${when(body.disarmed_at)} in ${body.destination}.`;
      setTimeout(() => refresh(), 1500);
    } else {
      cell.className = 'msg';
      cell.textContent = (body.detail || `HTTP ${r.status}`) +
        (body.incident ? ` — incident #${body.incident.id} opened (${body.incident.severity}).` : '');
    }
  }

  async function refresh() {
    try {
      await loadTrips();
      await loadLists();
    } catch (e) {
      showResult(false, `Cannot reach the server: ${e.message}`);
    }
  }

  // ---- arming ----
  function clearErrors() {
    form.querySelectorAll('.field').forEach(f => {
      f.classList.remove('bad');
      f.querySelector('.err').textContent = '';
    });
  }

  function fieldError(field, text) {
    const name = FIELD_OF[field] || field;
    const f = form.querySelector(`.field[data-field="${name}"]`);
    if (!f) return false;
    f.classList.add('bad');
    f.querySelector('.err').textContent = text;
    return true;
  }

  function showResult(ok, html) {
    const r = $('result');
    r.className = ok ? 'ok' : 'bad';
    r.innerHTML = html;
  }

  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    clearErrors();
    $('result').className = '';
    const num = id => ($(id).value === '' ? null : Number($(id).value));
    const body = {
      seal_id: $('seal_id').value || null,
      route_id: num('route_id'), origin_id: num('origin_id'), destination_id: num('destination_id'),
      conveyance: { plate: $('plate').value.trim(), container: $('container').value.trim() },
      declaration: $('declaration').value.trim(),
    };
    $('arm').disabled = true;
    let r, ans;
    try {
      r = await api('/api/trips', { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body) });
      ans = await r.json().catch(() => ({}));
    } catch (e) {
      $('arm').disabled = false;
      return showResult(false, `Cannot reach the server: ${esc(e.message)}`);
    }
    $('arm').disabled = false;
    state.last = { status: r.status, body: ans };
    if (r.status === 201) {
      showResult(true, `Trip armed.<div class="big">${esc(ans.id)}</div>` +
        `${esc(ans.seal_id)} · ${esc(ans.conveyance.plate)} · ${esc(ans.conveyance.container)}<br>` +
        `${esc(ans.origin)} → ${esc(ans.destination)}<br>` +
        `Deadline <b class="mono" id="deadline">${esc(ans.deadline)}</b>`);
      ['plate', 'container', 'declaration'].forEach(id => { $(id).value = ''; });
      containerHint();
      refresh();
      return;
    }
    const placed = ans.field ? fieldError(ans.field, ans.detail) : false;
    showResult(false, `<b>${esc((ans.error || 'refused').replace(/_/g, ' '))}</b>` +
      (placed ? ' — see the marked field.' : `: ${esc(ans.detail || 'HTTP ' + r.status)}`));
  });

  $('container').addEventListener('input', containerHint);
  $('route_id').addEventListener('change', routeHint);
  containerHint();
  refresh();
  setInterval(loadTrips, 15000);
})();
