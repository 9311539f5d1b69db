#!/usr/bin/env node
/*
 * incidents.test.js: the control room's incident panel and the RRU page against the real
 * corridord in headless Chromium.
 *
 * Creates its own database (libpq environment), starts $CORRIDOR_BUILD/corridord on free
 * ports with a dispatch endpoint, registers a restricted zone, a seal and two units over
 * REST, opens two officers' maps and the near unit's RRU page, and drives an OsmAnd ping
 * into the zone: the incident is dispatched to the nearest unit and shows on every page
 * (a beep counted for the critical incident); officer A acknowledges from the panel and
 * officer B's panel and the RRU page update without reloading; officer B, still holding
 * the old version for a moment, is told 409 with the current state; the unit reports on
 * scene and resolves from its page and the incident leaves both panels. Saves
 * $CORRIDOR_BUILD/screenshots/incidents.png. Exits non-zero on failure.
 */
'use strict';
const path = require('path');
const fs = require('fs');
const os = require('os');

const lib = require('./lib');
const { root, chromium } = lib;

const build = lib.build;
const db = `alerts_browser_${process.pid}_${Date.now() % 100000}`;
let server = null, browser = null, userDir = null;

const { fail, sleep, psql, freePort, waitFor } = lib;

async function main() {
  server = await lib.startCorridor(db, { extra: ['--dispatch-ack-timeout', '600'] });
  const { base, osmandPort } = server;

  // every /api request needs a token (docs/security.md): an admin one for this test, sent
  // by Node's fetch here and given to the pages as #token=
  const token = lib.createToken(db);
  lib.useToken(token);

  const post = async (p, body, want) => {
    const r = await fetch(`${base}${p}`, { method: 'POST', body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' } });
    if (r.status !== want) fail(`POST ${p}: ${r.status} ${await r.text()}`);
    return r.json();
  };
  await post('/api/geofences', { type: 'Feature', properties: { name: 'Zone', kind: 'restricted' },
    geometry: { type: 'Polygon', coordinates: [[[35.9, -0.1], [36.25, -0.1], [36.25, 0.15],
      [35.9, 0.15], [35.9, -0.1]]] } }, 201);
  await post('/api/seals', { id: 'BR-1', protocol: 'osmand' }, 201);
  await post('/api/rrus', { id: 'RRU-NKR', name: 'Nakuru unit', base: { type: 'Point',
    coordinates: [36.07, -0.30] } }, 201);
  await post('/api/rrus', { id: 'RRU-KSM', name: 'Kisumu unit', base: { type: 'Point',
    coordinates: [34.76, -0.09] } }, 201);

  userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corridor-chromium-'));
  browser = await chromium.launchPersistentContext(userDir, {
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required'],
    viewport: { width: 1400, height: 860 },
  });
  const pageErrors = [];
  const open = async url => {
    const p = await browser.newPage();
    p.on('pageerror', e => pageErrors.push(String(e)));
    // the stale-version request below answers 409 on purpose; Chromium logs that
    p.on('console', m => {
      if (m.type() === 'error' && !/status of 409/.test(m.text())) pageErrors.push(m.text());
    });
    await p.goto(url, { waitUntil: 'load' });
    await p.evaluate(() => { window.__sameDocument = true; });
    return p;
  };
  const a = await open(`${base}/#token=${token}`), b = await open(`${base}/#token=${token}`);
  // the unit's page signs in with the unit's own token: it acts only on its incidents
  const rruToken = lib.createToken(db, 'rru', 'browser-test', ['--unit', 'RRU-NKR']);
  const unit = await open(`${base}/rru.html?unit=RRU-NKR#token=${rruToken}`);
  for (const p of [a, b])
    await p.waitForFunction(() => window.corridor && window.corridor.connected &&
      window.corridor.snapshots >= 1 && window.corridor.incidentsUI, null, { timeout: 15000 });
  await unit.waitForFunction(() => window.rru && window.rru.connected, null, { timeout: 15000 });

  // ---- the seal enters the restricted zone ----
  const t = Math.floor(Date.now() / 1000) - 30;
  const r = await fetch(`http://127.0.0.1:${osmandPort}/?id=BR-1&lat=0.0&lon=36.05&timestamp=${t}`);
  if (r.status !== 200) fail(`OsmAnd ping: ${r.status}`);
  const li = '#incidents li[data-rule="restricted_zone_entry"][data-seal="BR-1"]';
  for (const p of [a, b])
    await p.waitForSelector(`${li}[data-status="dispatched"]`, { timeout: 10000 })
      .catch(() => fail('the incident did not show as dispatched on both maps'));
  const text = await a.textContent(li);
  if (!/unit RRU-NKR/.test(text)) fail(`the nearest unit is not shown: "${text}"`);
  if (!/min to target/.test(text)) fail(`no response-target countdown: "${text}"`);
  if ((await a.evaluate(() => window.corridor.incidentsUI.beeps)) < 1)
    fail('no beep for a critical incident');
  await unit.waitForSelector('#queue li[data-status="dispatched"]', { timeout: 10000 })
    .catch(() => fail('the RRU page did not show its dispatch'));

  // ---- officer B holds version N; officer A acknowledges first ----
  const staleVersion = Number(await b.getAttribute(li, 'data-version'));
  await a.click(`${li} button:has-text("Acknowledge")`);
  for (const p of [a, b])
    await p.waitForSelector(`${li}[data-status="acknowledged"]`, { timeout: 10000 })
      .catch(() => fail('the acknowledgement did not reach every map'));
  if (!(await b.evaluate(() => window.__sameDocument === true))) fail('officer B\'s page reloaded');
  await unit.waitForSelector('#queue li[data-status="acknowledged"]', { timeout: 10000 })
    .catch(() => fail('the RRU page did not update'));

  // what B's click would have sent a moment earlier: 409 with the current state
  const id = Number(await a.getAttribute(li, 'data-id'));
  const late = await b.evaluate(async ([i, v]) => {
    const res = await fetch(`/api/incidents/${i}/actions`, { method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ action: 'note', note: 'late', version: v }) });
    return { status: res.status, body: await res.json() };
  }, [id, staleVersion]);
  if (late.status !== 409 || late.body.error !== 'version_conflict' ||
      late.body.incident.status !== 'acknowledged')
    fail(`stale version: expected 409 with the current state, got ${JSON.stringify(late)}`);

  // B adds a note through the panel's form (the current version): A sees the new version
  const before = Number(await a.getAttribute(li, 'data-version'));
  await b.click(`${li} button:has-text("Note")`);
  await b.fill(`${li} .form input[name="note"]`, 'driver called, says the seal is intact');
  await b.click(`${li} .form button:has-text("Add note")`);
  await a.waitForFunction(([s, v]) => {
    const e = document.querySelector(s);
    return e && Number(e.dataset.version) > v;
  }, [li, before], { timeout: 10000 }).catch(() => fail('the note did not reach officer A'));

  // ---- the unit works it from its page ----
  await unit.click('#queue li button:has-text("On scene")');
  for (const p of [a, b])
    await p.waitForSelector(`${li}[data-status="on_scene"]`, { timeout: 10000 })
      .catch(() => fail('on scene did not reach the maps'));
  await a.screenshot({ path: path.join(build, 'screenshots', 'incidents.png') });
  await unit.selectOption('#queue li select', 'false_alarm');
  await unit.click('#queue li button:has-text("Resolve")');
  for (const p of [a, b])
    await p.waitForFunction(s => !document.querySelector(s), li, { timeout: 10000 })
      .catch(() => fail('the resolved incident stayed on a panel'));
  await unit.waitForFunction(() => document.querySelectorAll('#queue li').length === 0, null,
    { timeout: 10000 }).catch(() => fail('the resolved incident stayed in the unit\'s queue'));

  const trail = await (await fetch(`${base}/api/incidents/${id}`)).json();
  const actions = trail.audit.map(x => x.action).join(',');
  if (actions !== 'open,dispatch,ack,note,on_scene,resolve')
    fail(`unexpected audit trail ${actions}`);
  if (trail.outcome !== 'false_alarm') fail(`outcome ${trail.outcome}`);
  if (pageErrors.length) fail(`errors in the pages: ${pageErrors.join(' | ')}`);
  console.log(`ok: incident #${id} dispatched to RRU-NKR, acknowledged on one map and seen on ` +
    'the other and the unit\'s page, stale version refused with 409, resolved by the unit');
}

async function cleanup() {
  const s = server;
  server = null;
  await lib.cleanUp({ browser, userDir, procs: [s && s.proc], db });
}

lib.run('incidents.test.js', main, cleanup, () => [['corridord log', server ? server.log() : '']]);
