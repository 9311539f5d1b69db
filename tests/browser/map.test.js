#!/usr/bin/env node
/*
 * map.test.js: the live map against the real corridord in headless Chromium.
 *
 * Creates its own database in the PostgreSQL named by the libpq environment (PGHOST,
 * PGPORT, PGUSER), starts $CORRIDOR_BUILD/corridord on free ports, registers a restricted
 * geofence and two seals over REST, opens the map, drives OsmAnd pings over the real
 * OsmAnd port (one seal into the restricted zone) and checks, without reloading, that the
 * markers moved and the incident appeared. Saves $CORRIDOR_BUILD/screenshots/map.png.
 * Stops the server and drops the database whatever happens; exits non-zero on failure.
 */
'use strict';
const path = require('path');
const fs = require('fs');
const os = require('os');

const lib = require('./lib');
const { root, chromium } = lib;

const build = lib.build;
const db = `web_map_${process.pid}_${Date.now() % 100000}`;
let server = null, browser = null, userDir = null;

const { fail, sleep, psql, freePort, waitFor } = lib;

async function main() {
  server = await lib.startCorridor(db);
  const { base, osmandPort } = server;

  // every /api request needs a token (docs/security.md): an admin one for this test, sent
  // by Node's fetch here and given to the pages as #token=
  const token = lib.createToken(db);
  lib.useToken(token);

  // ---- REST: a restricted zone across the road north of Nakuru, and two seals ----
  const zone = { type: 'Feature', properties: { name: 'Test restricted zone', kind: 'restricted' },
    geometry: { type: 'Polygon', coordinates: [[[35.9, -0.1], [36.25, -0.1], [36.25, 0.15],
      [35.9, 0.15], [35.9, -0.1]]] } };
  let r = await fetch(`${base}/api/geofences`, { method: 'POST', body: JSON.stringify(zone),
    headers: { 'content-type': 'application/json' } });
  if (r.status !== 201) fail(`POST /api/geofences: ${r.status} ${await r.text()}`);
  const fence = await r.json();
  if (!fence.id) fail('POST /api/geofences: no id in the answer');
  for (const id of ['WEB-T1', 'WEB-T2']) {
    r = await fetch(`${base}/api/seals`, { method: 'POST',
      body: JSON.stringify({ id, protocol: 'osmand' }) });
    if (r.status !== 201) fail(`POST /api/seals ${id}: ${r.status} ${await r.text()}`);
  }
  r = await fetch(`${base}/api/seals`, { method: 'POST', body: '{"id":"WEB-T1"}' });
  if (r.status !== 409) fail(`duplicate seal: expected 409, got ${r.status}`);

  // ---- OsmAnd pings over the real port ----
  let clock = Math.floor(Date.now() / 1000) - 600;
  async function ping(id, lat, lon, bearing) {
    clock += 5;
    const q = `id=${id}&lat=${lat}&lon=${lon}&timestamp=${clock}&speed=60&bearing=${bearing}&batt=87`;
    const res = await fetch(`http://127.0.0.1:${osmandPort}/?${q}`);
    if (res.status !== 200) fail(`OsmAnd ping ${q}: ${res.status} ${await res.text()}`);
  }
  await ping('WEB-T1', -0.95, 36.55, 315); // between Nairobi and Nakuru
  await ping('WEB-T2', 0.10, 32.45, 225);  // south-west of Kampala

  // ---- the page ----
  userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corridor-chromium-'));
  browser = await chromium.launchPersistentContext(userDir, {
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 860 },
  });
  const page = browser.pages()[0] || await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', e => pageErrors.push(String(e)));
  page.on('console', m => { if (m.type() === 'error') pageErrors.push(m.text()); });
  await page.goto(`${base}/#token=${token}`, { waitUntil: 'load' });
  await page.evaluate(() => { window.__sameDocument = true; });
  await page.waitForFunction(() => window.corridor && window.corridor.connected &&
    window.corridor.snapshots >= 1, null, { timeout: 15000 });
  await page.waitForFunction(() => window.corridor.seals.has('WEB-T1') &&
    window.corridor.seals.has('WEB-T2'), null, { timeout: 10000 });
  await page.waitForFunction(() => window.corridor.geofences >= 1, null, { timeout: 10000 });
  const where = id => page.evaluate(i => {
    const ll = window.corridor.seals.get(i).marker.getLatLng();
    return [ll.lat, ll.lng];
  }, id);
  const t1Before = await where('WEB-T1'), t2Before = await where('WEB-T2');

  // ---- drive both seals; WEB-T1 goes into the restricted zone ----
  const t1Path = [[-0.75, 36.42], [-0.55, 36.30], [-0.35, 36.18], [-0.15, 36.10], [0.0, 36.05]];
  const t2Path = [[-0.05, 32.10], [-0.20, 31.75], [-0.35, 31.40], [-0.50, 31.05]];
  for (let i = 0; i < Math.max(t1Path.length, t2Path.length); i++) {
    if (t1Path[i]) await ping('WEB-T1', t1Path[i][0], t1Path[i][1], 330);
    if (t2Path[i]) await ping('WEB-T2', t2Path[i][0], t2Path[i][1], 240);
    await sleep(250);
  }
  await page.waitForFunction(() => {
    const s = window.corridor.seals.get('WEB-T1');
    return s && Math.abs(s.marker.getLatLng().lat - 0.0) < 1e-6;
  }, null, { timeout: 10000 }).catch(() => fail('WEB-T1 marker did not reach its last position'));
  await page.waitForFunction(() => {
    const s = window.corridor.seals.get('WEB-T2');
    return s && Math.abs(s.marker.getLatLng().lat + 0.5) < 1e-6;
  }, null, { timeout: 10000 }).catch(() => fail('WEB-T2 marker did not reach its last position'));
  const t1After = await where('WEB-T1'), t2After = await where('WEB-T2');
  if (t1After[0] === t1Before[0] && t1After[1] === t1Before[1]) fail('WEB-T1 did not move');
  if (t2After[0] === t2Before[0] && t2After[1] === t2Before[1]) fail('WEB-T2 did not move');
  const markers = await page.locator('.seal-icon').count();
  if (markers !== 2) fail(`expected 2 seal markers on the map, found ${markers}`);

  const sel = '#incidents li[data-rule="restricted_zone_entry"][data-seal="WEB-T1"]';
  await page.waitForSelector(sel, { timeout: 10000 })
    .catch(() => fail('the restricted-zone incident did not appear in the list'));
  const cls = await page.getAttribute(sel, 'class');
  if (!/sev-critical/.test(cls)) fail(`the incident is not shown as critical (class "${cls}")`);
  if (await page.locator(`#incidents li[data-seal="WEB-T2"]`).count() !== 0)
    fail('WEB-T2 never entered the zone but has an incident');
  if (!(await page.evaluate(() => window.__sameDocument === true)))
    fail('the page reloaded: the incident must arrive live');
  const status = await page.textContent('#status');
  if (!/live · 2 seals · 1 open incident · /.test(status)) fail(`unexpected status line "${status}"`);

  // the REST list agrees with the page
  r = await fetch(`${base}/api/incidents?status=open`);
  const incidents = await r.json();
  if (incidents.length !== 1 || incidents[0].seal_id !== 'WEB-T1' ||
      incidents[0].rule !== 'restricted_zone_entry')
    fail(`GET /api/incidents: unexpected ${JSON.stringify(incidents)}`);

  // a popup on the seal, then the screenshot
  await sleep(1500); // let the incident's flash animation settle
  const shots = path.join(build, 'screenshots');
  fs.mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, 'map.png') });
  if (pageErrors.length) fail(`errors in the page: ${pageErrors.join(' | ')}`);

  const metrics = await (await fetch(`${base}/metrics`)).text();
  if (!/corridor_web_ws_messages_sent_total [1-9]/.test(metrics))
    fail('/metrics shows no websocket messages sent');
  console.log(`ok: markers moved, incident #${incidents[0].id} shown live, ` +
    `screenshot ${path.join(shots, 'map.png')}`);
}

async function cleanup() {
  const s = server;
  server = null;
  await lib.cleanUp({ browser, userDir, procs: [s && s.proc], db });
}

lib.run('map.test.js', main, cleanup, () => [['corridord log', server ? server.log() : '']]);
