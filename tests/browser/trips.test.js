#!/usr/bin/env node
/*
 * trips.test.js: the arming page and the map's trip panel against the real corridord in
 * headless Chromium.
 *
 * Creates its own database, starts $CORRIDOR_BUILD/corridord on free ports, creates the
 * fences, a route and a seal over REST, has the seal report locked at the port, then on
 * arming.html arms a trip with a wrong container check digit (the server's refusal shows
 * beside the container field), corrects it and arms (the trip id and deadline show). It
 * drives the seal through the checkpoint over OsmAnd, opens the map, clicks the seal and
 * checks the trip panel: conveyance, declaration, deadline, the checkpoint passed, the
 * events, and the corridor and track drawn. Back on the arming page a disarm on the road
 * is refused beside the trip. Saves $CORRIDOR_BUILD/screenshots/arming-refused.png, arming.png
 * and trips.png.
 * Stops the server and drops the database whatever happens; exits non-zero on failure.
 */
'use strict';
const path = require('path');
const fs = require('fs');
const os = require('os');

const lib = require('./lib');
const { root, chromium } = lib;

const build = lib.build;
const db = `web_trips_${process.pid}_${Date.now() % 100000}`;
let server = null, browser = null, userDir = null;

const { fail, sleep, psql, freePort, waitFor } = lib;

// A fence: a square of half-width d degrees around (lat, lon).
function square(name, kind, lat, lon, d) {
  return { type: 'Feature', properties: { name, kind }, geometry: { type: 'Polygon',
    coordinates: [[[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d],
      [lon - d, lat - d]]] } };
}

async function main() {
  server = await lib.startCorridor(db);
  const { base, osmandPort } = server;
  const token = lib.createToken(db, 'admin', 'trips.test.js');
  const auth = { authorization: `Bearer ${token}` };
  const q = `?token=${token}`;

  async function post(p, body, want) {
    const r = await fetch(`${base}${p}`, { method: 'POST', body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...auth } });
    const text = await r.text();
    if (r.status !== want) fail(`POST ${p}: ${r.status} ${text}`);
    return JSON.parse(text);
  }

  // ---- REST: fences, a route Mombasa - Emali - Nairobi ICD, a seal ----
  const port = await post('/api/geofences', square('Mombasa port', 'port', -4.06, 39.655, 0.02), 201);
  const emali = await post('/api/geofences', square('Emali', 'checkpoint', -2.0833, 37.4667, 0.01), 201);
  const icd = await post('/api/geofences',
    square('Nairobi ICD', 'customs_office', -1.329, 36.893, 0.015), 201);
  const line = [[39.655, -4.06], [39.4731, -3.8617], [38.5561, -3.3961], [38.1656, -2.6906],
    [37.4667, -2.0833], [36.978, -1.456], [36.893, -1.329]];
  const route = await post('/api/routes', { name: 'Mombasa port - Nairobi ICD (A109)',
    geometry: { type: 'LineString', coordinates: line }, corridor_m: 1500,
    max_transit_minutes: 720, max_speed_kmh: 1000000,
    checkpoints: [{ geofence_id: emali.id, max_leg_minutes: 480 }] }, 201);
  await post('/api/seals', { id: 'KE-SEAL-0042', protocol: 'osmand' }, 201);

  // ---- OsmAnd: locked at the port (device times after arming go a little ahead) ----
  let clock = Math.floor(Date.now() / 1000) - 30;
  async function ping(lat, lon, extra = '') {
    clock += 20;
    const q = `id=KE-SEAL-0042&lat=${lat}&lon=${lon}&timestamp=${clock}&speed=35&bearing=300` +
      `&batt=64&lock=locked${extra}`;
    const res = await fetch(`http://127.0.0.1:${osmandPort}/?${q}`);
    if (res.status !== 200) fail(`OsmAnd ping ${q}: ${res.status} ${await res.text()}`);
  }
  await ping(-4.06, 39.655);

  // ---- the arming page ----
  userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corridor-chromium-'));
  browser = await chromium.launchPersistentContext(userDir, {
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1180, height: 820 }, // a landscape tablet
  });
  const page = browser.pages()[0] || await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', e => pageErrors.push(String(e)));
  // the refusals this test provokes (422, 409) are logged by Chromium as failed loads
  page.on('console', m => {
    if (m.type() === 'error' && !/status of (409|422) /.test(m.text())) pageErrors.push(m.text());
  });
  await page.goto(`${base}/arming.html${q}`, { waitUntil: 'load' });
  await page.waitForFunction(() => document.querySelectorAll('#route_id option').length === 2 &&
    document.querySelectorAll('#seal_id option').length === 2, null, { timeout: 10000 });
  if (await page.locator('#origin_id option').count() !== 3)
    fail('the origin list must hold the two release points only (port, customs office)');
  await page.selectOption('#seal_id', 'KE-SEAL-0042');
  await page.selectOption('#route_id', String(route.id));
  await page.selectOption('#origin_id', String(port.id));
  await page.selectOption('#destination_id', String(icd.id));
  await page.fill('#plate', 'KCB 512X');
  await page.fill('#container', 'CSQU3054384');
  await page.fill('#declaration', '2026KEMSA0047113');
  const hint = await page.textContent('#container-hint');
  if (!/check digit should be 3/.test(hint)) fail(`container hint: "${hint}"`);

  await page.click('#arm');
  const err = '.field[data-field="container"].bad .err';
  await page.waitForSelector(err, { timeout: 10000 })
    .catch(() => fail('the container refusal was not shown beside the field'));
  const errText = await page.textContent(err);
  if (!/fails the ISO 6346 check digit/.test(errText)) fail(`container error: "${errText}"`);
  if (await page.locator('.field.bad').count() !== 1) fail('only the container field is at fault');
  const shots = path.join(build, 'screenshots');
  fs.mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, 'arming-refused.png'), fullPage: true });
  const last = await page.evaluate(() => JSON.parse(JSON.stringify(window.arming.last)));
  if (last.status !== 422 || last.body.error !== 'container_check_digit' ||
      last.body.field !== 'container')
    fail(`server answer: ${JSON.stringify(last)}`);

  await page.fill('#container', 'CSQU 305438 3');
  await page.click('#arm');
  await page.waitForSelector('#result.ok', { timeout: 10000 })
    .catch(async () => fail(`arming failed: ${await page.textContent('#result')}`));
  const armed = await page.evaluate(() => JSON.parse(JSON.stringify(window.arming.last.body)));
  if (armed.status !== 'armed' || !/^[0-9a-f-]{36}$/.test(armed.id)) fail(`armed: ${JSON.stringify(armed)}`);
  const shown = await page.textContent('#result');
  if (!shown.includes(armed.id) || !shown.includes(armed.deadline))
    fail(`the result does not show the trip id and deadline: "${shown}"`);
  if (await page.locator('.field.bad').count() !== 0) fail('field errors left after arming');
  await page.waitForSelector(`#trips tr[data-id="${armed.id}"]`, { timeout: 10000 })
    .catch(() => fail('the armed trip is not in the active trips list'));
  await page.screenshot({ path: path.join(shots, 'arming.png'), fullPage: true });

  // ---- the truck leaves: along the A109 through Emali, battery falling ----
  const drive = [[-3.8617, 39.4731], [-3.3961, 38.5561], [-2.6906, 38.1656], [-2.387, 37.816],
    [-2.0833, 37.4667], [-1.93, 37.347], [-1.80, 37.246]];
  clock = Math.max(clock, Math.floor(Date.now() / 1000)); // after the arming time
  for (const [i, [lat, lon]] of drive.entries())
    await ping(lat, lon, i === drive.length - 1 ? '&batt=12' : '');

  // ---- the map: click the seal, see its trip ----
  await page.setViewportSize({ width: 1400, height: 860 }); // a control-room screen
  await page.goto(`${base}/${q}`, { waitUntil: 'load' });
  await page.waitForFunction(() => window.corridor && window.corridor.connected &&
    window.corridor.seals.has('KE-SEAL-0042'), null, { timeout: 15000 });
  await page.waitForFunction(() => window.corridor.geofences >= 3, null, { timeout: 10000 });
  await page.click('.seal-icon svg');
  await page.waitForSelector('#trip-panel.open dd[data-k="plate"]', { timeout: 10000 })
    .catch(() => fail('the trip panel did not open on a click on the seal'));
  const text = sel => page.textContent(`#trip-panel ${sel}`);
  if ((await text('dd[data-k="plate"]')) !== 'KCB 512X') fail('plate');
  if ((await text('dd[data-k="container"]')) !== 'CSQU3054383') fail('container');
  if ((await text('dd[data-k="declaration"]')) !== '2026KEMSA0047113') fail('declaration');
  if (!(await text('dd[data-k="deadline"]')).startsWith(armed.deadline.slice(0, 16).replace('T', ' ')))
    fail('deadline');
  await page.waitForSelector('#trip-panel li.cp.passed', { timeout: 5000 })
    .catch(() => fail('Emali is not shown as passed'));
  const kinds = await page.$$eval('#trip-panel li.ev', l => l.map(e => e.dataset.kind));
  for (const k of ['trip_armed', 'checkpoint_passed', 'low_battery'])
    if (!kinds.includes(k)) fail(`event ${k} missing from the panel: ${kinds}`);
  const drawn = await page.evaluate(() => window.corridor.trip.layers.getLayers().length);
  if (drawn < 3) fail(`corridor, route and track should be drawn (${drawn} layers)`);
  const trip = await (await fetch(`${base}/api/trips/${armed.id}`, { headers: auth })).json();
  if (trip.route.corridor.type !== 'Polygon' || !trip.track) fail('corridor or track missing');
  await page.evaluate(() => { window.corridor.map.closePopup(); });
  await sleep(800);
  await page.screenshot({ path: path.join(shots, 'trips.png') });

  // ---- back on the arming page: a disarm on the road is refused ----
  await page.goto(`${base}/arming.html${q}`, { waitUntil: 'load' });
  const row = `#trips tr[data-id="${armed.id}"]`;
  await page.waitForSelector(row, { timeout: 10000 });
  await page.click(`${row} button`);
  await page.waitForSelector('#trips tr.msgrow td.msg', { timeout: 10000 });
  const refusal = await page.textContent('#trips tr.msgrow td.msg');
  if (!/outside destination "Nairobi ICD"/.test(refusal) || !/incident #\d+ opened/.test(refusal))
    fail(`disarm refusal: "${refusal}"`);
  if (pageErrors.length) fail(`errors in the page: ${pageErrors.join(' | ')}`);
  console.log(`ok: refusal beside the container field, trip ${armed.id} armed, panel shown, ` +
    `disarm refused; screenshots in ${shots}`);
}

async function cleanup() {
  const s = server;
  server = null;
  await lib.cleanUp({ browser, userDir, procs: [s && s.proc], db });
}

lib.run('trips.test.js', main, cleanup, () => [['corridord log', server ? server.log() : '']]);
