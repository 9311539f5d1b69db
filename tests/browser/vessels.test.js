#!/usr/bin/env node
/*
 * vessels.test.js: the map's vessels layer (web/static/vessels.js) against the real
 * corridord in headless Chromium, fed by corridor-sim's AIS mode over the real AIS port.
 *
 * Creates its own database (libpq environment: PGHOST, PGPORT, PGUSER), starts
 * $CORRIDOR_BUILD/corridord on free ports and `corridor-sim ais --speedup 120` against it,
 * registers a seal and pings it near Mombasa (both layers on one map), opens the map and
 * checks: ten vessel markers rotated by course, the layer toggle hides and shows them,
 * clicking SEA NYMPH opens its detail panel (name, MMSI, IMO, call sign, type,
 * destination), a refused start (no reason) shows the server's sentence, a start with
 * declaration and reason answers 201 and the entry is in GET /api/watchlist, the marker
 * turns watched and its track is drawn; stop tracking from the panel ends the entry.
 * Saves $CORRIDOR_BUILD/screenshots/vessels.png. Stops everything and drops the database
 * whatever happens; exits non-zero on failure.
 */
'use strict';
const path = require('path');
const fs = require('fs');
const os = require('os');
const { spawn } = require('child_process');

const lib = require('./lib');
const { root, chromium } = lib;

const build = lib.build;
const db = `web_vessels_${process.pid}_${Date.now() % 100000}`;
let server = null, sim = null, browser = null, userDir = null, simLog = '';

const { fail, sleep, psql, freePort, waitFor } = lib;

async function main() {
  const simExe = path.join(build, 'corridor-sim');
  if (!fs.existsSync(simExe)) fail(`${simExe} not found: build first (CORRIDOR_BUILD)`);
  server = await lib.startCorridor(db, { ais: true });
  const { base, osmandPort, aisPort } = server;

  // every /api request needs a token (docs/security.md): an admin one for this test, sent
  // by Node's fetch here and given to the pages as #token=
  const token = lib.createToken(db);
  lib.useToken(token);

  // a seal on the road out of Mombasa: both layers on one map
  let r = await fetch(`${base}/api/seals`, { method: 'POST',
    body: JSON.stringify({ id: 'KE-SEAL-PORT', protocol: 'osmand' }) });
  if (r.status !== 201) fail(`POST /api/seals: ${r.status} ${await r.text()}`);
  const now = Math.floor(Date.now() / 1000);
  r = await fetch(`http://127.0.0.1:${osmandPort}/?id=KE-SEAL-PORT&lat=-3.95&lon=39.55` +
    `&timestamp=${now}&speed=40&bearing=300`);
  if (r.status !== 200) fail(`OsmAnd ping: ${r.status}`);

  // the AIS feed: ten ships, 2 simulated minutes per second
  sim = spawn(simExe, ['ais', '--ais', `127.0.0.1:${aisPort}`, '--speedup', '120',
    '--duration', '120'], { stdio: ['ignore', 'pipe', 'pipe'] });
  sim.stdout.on('data', d => { simLog += d; });
  sim.stderr.on('data', d => { simLog += d; });
  await waitFor('ten vessels stored', async () =>
    (await (await fetch(`${base}/api/vessels`)).json()).filter(v => v.name).length === 10);

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
  // the refused start below is a 422 on purpose: Chromium logs it as a failed resource
  page.on('console', m => {
    if (m.type() === 'error' && !/status of 422/.test(m.text())) pageErrors.push(m.text());
  });
  await page.goto(`${base}/#token=${token}`, { waitUntil: 'load' });
  await page.waitForFunction(() => window.corridor && window.corridor.connected &&
    window.corridor.snapshots >= 1 && window.corridor.vessels, null, { timeout: 15000 });
  await page.waitForFunction(() => window.corridor.vessels.size === 10, null, { timeout: 10000 })
    .catch(() => fail('the snapshot did not bring ten vessels'));
  // zoom to Mombasa's approaches, where the ships are
  await page.evaluate(() => { window.corridor.map.setView([-4.05, 40.1], 9, { animate: false }); });
  await page.waitForFunction(() => document.querySelectorAll('.vessel-icon[data-mmsi]').length === 10,
    null, { timeout: 10000 }).catch(() => fail('ten vessel markers are not on the map'));
  if (await page.locator('.seal-icon').count() !== 1) fail('the seal is not on the map with the ships');

  // live: a vessel's marker moves without reloading
  const at = () => page.evaluate(() => {
    const ll = window.corridor.vessels.get(477123400).marker.getLatLng();
    return ll.lat + ',' + ll.lng;
  });
  const before = await at();
  await waitFor('KOTA MAKMUR to move live', async () => (await at()) !== before, 15000);
  // rotated by course
  const rot = await page.getAttribute('.vessel-icon[data-mmsi="477123400"] g', 'transform');
  if (!/rotate\((2[0-9]{2}|1[0-9]{2}|[0-9]{1,2})(\.\d+)?\)/.test(rot || '')) fail(`marker not rotated: ${rot}`);

  // the layer toggle hides and shows the vessels
  const toggle = page.locator('.leaflet-control-layers label', { hasText: 'Vessels (AIS)' }).locator('input');
  await toggle.uncheck();
  if (await page.locator('.vessel-icon').count() !== 0) fail('the toggle did not hide the vessels');
  await toggle.check();
  await page.waitForFunction(() => document.querySelectorAll('.vessel-icon[data-mmsi]').length === 10,
    null, { timeout: 5000 }).catch(() => fail('the toggle did not show the vessels again'));

  // ---- the detail panel ----
  const nymph = '.vessel-icon[data-mmsi="357812000"]';
  await page.click(nymph);
  await page.waitForSelector('#vessel-panel.open', { timeout: 5000 });
  const text = await page.textContent('#vessel-panel');
  for (const want of ['SEA NYMPH', '357812000', '9412050', '3EBX9', 'tanker', 'MOMBASA', 'ETA',
    'speed', 'course', 'last seen', 'not tracked'])
    if (!text.includes(want)) fail(`the panel lacks "${want}": ${text}`);

  // a refused start shows the server's sentence
  // type the declaration, lift the browser's own check on the reason and submit, all in one
  // step: a vessel update over the websocket re-renders the panel at any moment (it keeps
  // typed values, not a lifted attribute, and a fill may land on the replaced form)
  await page.evaluate(() => {
    const form = document.querySelector('#vessel-panel form.start');
    form.elements.declaration.value = 'KE-2026-0777';
    form.elements.declaration.dispatchEvent(new Event('input'));
    form.elements.reason.required = false;
    form.requestSubmit();
  });
  await page.waitForSelector('#vessel-panel .msg.error', { timeout: 15000 });
  if (!/reason must say why/.test(await page.textContent('#vessel-panel .msg')))
    fail(`no refusal shown: ${await page.textContent('#vessel-panel .msg')}`);

  // start tracking
  await page.evaluate(() => { // one step, as above
    const form = document.querySelector('#vessel-panel form.start');
    for (const [k, v] of [['reason', 'fuel declared at half the market price'],
      ['port', 'Mombasa']]) {
      form.elements[k].value = v;
      form.elements[k].dispatchEvent(new Event('input'));
    }
    form.requestSubmit();
  });
  await page.waitForFunction(() => {
    const a = window.corridor.vesselsUI.lastAction;
    return a && a.status === 201;
  }, null, { timeout: 5000 }).catch(() => fail('POST /api/watchlist from the panel did not answer 201'));
  const list = await (await fetch(`${base}/api/watchlist`)).json();
  const entry = list.find(w => w.mmsi === 357812000);
  if (!entry || entry.declaration !== 'KE-2026-0777' || entry.port !== 'Mombasa' || !entry.active)
    fail(`GET /api/watchlist lacks the entry: ${JSON.stringify(list)}`);
  await page.waitForSelector(`${nymph}.watched`, { timeout: 5000 })
    .catch(() => fail('the marker did not turn watched'));
  await page.waitForSelector(`#vessel-panel .entry[data-watch="${entry.id}"]`, { timeout: 5000 });
  // the track grows from the stored history and live reports
  await page.waitForFunction(() => {
    const e = window.corridor.vessels.get(357812000);
    return e.track && e.track.getLatLngs().length >= 3;
  }, null, { timeout: 15000 }).catch(() => fail('the watched vessel has no track'));

  // the screenshot: the approaches with the watched ship's panel open
  await sleep(500);
  const shots = path.join(build, 'screenshots');
  fs.mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, 'vessels.png') });

  // stop tracking from the panel
  await page.click(`#vessel-panel .entry[data-watch="${entry.id}"] button.stop`);
  await page.waitForFunction(() => {
    const a = window.corridor.vesselsUI.lastAction;
    return a && a.status === 200 && a.body && a.body.active === false;
  }, null, { timeout: 5000 }).catch(() => fail('DELETE /api/watchlist from the panel did not answer 200'));
  if ((await (await fetch(`${base}/api/watchlist`)).json()).some(w => w.id === entry.id))
    fail('the stopped entry is still active');
  await page.waitForFunction(sel => !document.querySelector(sel + '.watched'), nymph, { timeout: 5000 })
    .catch(() => fail('the marker is still shown as watched'));

  if (pageErrors.length) fail(`errors in the page: ${pageErrors.join(' | ')}`);
  console.log(`ok: 10 vessel markers, panel, start and stop tracking (watch #${entry.id}), ` +
    `screenshot ${path.join(shots, 'vessels.png')}`);
}

async function cleanup() {
  const s = sim, srv = server;
  sim = server = null;
  await lib.cleanUp({ browser, userDir, procs: [s, srv && srv.proc], db });
}

lib.run('vessels.test.js', main, cleanup, () => [
  ['corridord log', server ? server.log(30) : ''],
  ['corridor-sim ais', simLog.trim().split('\n').slice(-10).join('\n')]]);
