#!/usr/bin/env node
/*
 * replay.test.js: the journey replay (web/static/replay.js) against the real corridord in
 * headless Chromium.
 *
 * Creates its own database, starts $CORRIDOR_BUILD/corridord, creates fences, a route with a
 * checkpoint and a seal over REST, has the seal report locked at the port over OsmAnd and
 * arms a trip. The trip is then moved three days back and given a fix every 10 s along the
 * route (25,920, written straight into corridor.positions as a stored history would be),
 * two events and an incident in the middle; a last OsmAnd fix reports the seal open at the
 * destination (a real seal_opened incident). On the map: click the seal, click "Replay
 * trip"; the dock shows the fixes, the incident marks and the checkpoint; at x1000 the
 * clock, slider and time label advance and the seal moves along the track at a steady
 * frame rate; pause stops it; a click on the middle incident's mark jumps there; follow
 * keeps the seal in view; "Replay seal" then replays the seal's last 24 hours. Saves $CORRIDOR_BUILD/screenshots/replay.png
 * (and docs/replay.png with CORRIDOR_DOCS_SHOTS=1).
 * Stops the server and drops the database whatever happens; exits non-zero on failure.
 */
'use strict';
const path = require('path');
const fs = require('fs');
const os = require('os');
const { execFileSync } = require('child_process');

const lib = require('./lib');
const { root, chromium, fail, sleep } = lib;

const build = lib.build;
const db = `web_replay_${process.pid}_${Date.now() % 100000}`;
let server = null, browser = null, userDir = null;
const FIXES = 25920; // three days, one fix every 10 s

function sql(text) {
  return String(execFileSync('psql', ['-v', 'ON_ERROR_STOP=1', '-qAt', '-d', db, '-c', text],
    { stdio: ['ignore', 'pipe', 'pipe'] })).trim();
}

function square(name, kind, lat, lon, d) {
  return { type: 'Feature', properties: { name, kind }, geometry: { type: 'Polygon',
    coordinates: [[[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d],
      [lon - d, lat - d]]] } };
}

async function main() {
  server = await lib.startCorridor(db);
  const { base, osmandPort } = server;
  const token = lib.createToken(db, 'officer', 'replay.test.js');
  const auth = { authorization: `Bearer ${token}` };
  async function post(p, body, want) {
    const r = await fetch(`${base}${p}`, { method: 'POST', body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...auth } });
    const text = await r.text();
    if (r.status !== want) fail(`POST ${p}: ${r.status} ${text}`);
    return JSON.parse(text);
  }
  async function ping(t, lat, lon, lock) {
    const q = `id=KE-SEAL-0077&lat=${lat}&lon=${lon}&timestamp=${t}&speed=30&lock=${lock}`;
    const r = await fetch(`http://127.0.0.1:${osmandPort}/?${q}`);
    if (r.status !== 200) fail(`OsmAnd ${q}: ${r.status}`);
  }

  // ---- the world: Mombasa port - Emali - Nairobi ICD ----
  const admin = lib.createToken(db, 'admin', 'replay.test.js setup');
  const asAdmin = { authorization: `Bearer ${admin}` };
  async function adminPost(p, body) {
    const r = await fetch(`${base}${p}`, { method: 'POST', body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...asAdmin } });
    if (r.status !== 201) fail(`POST ${p}: ${r.status} ${await r.text()}`);
    return r.json();
  }
  const port = await adminPost('/api/geofences', square('Mombasa port', 'port', -4.06, 39.655, 0.02));
  const emali = await adminPost('/api/geofences', square('Emali', 'checkpoint', -2.0833, 37.4667, 0.02));
  const icd = await adminPost('/api/geofences',
    square('Nairobi ICD', 'customs_office', -1.329, 36.893, 0.02));
  const line = [[39.655, -4.06], [39.4731, -3.8617], [38.5561, -3.3961], [38.1656, -2.6906],
    [37.4667, -2.0833], [36.978, -1.456], [36.893, -1.329]];
  const route = await adminPost('/api/routes', { name: 'Mombasa port - Nairobi ICD (A109)',
    geometry: { type: 'LineString', coordinates: line }, corridor_m: 3000,
    max_transit_minutes: 6000, max_speed_kmh: 1000000,
    checkpoints: [{ geofence_id: emali.id, max_leg_minutes: 4000 }] });
  await adminPost('/api/seals', { id: 'KE-SEAL-0077', protocol: 'osmand' });
  const now = Math.floor(Date.now() / 1000);
  await ping(now - 60, -4.06, 39.655, 'locked');
  const trip = await post('/api/trips', { seal_id: 'KE-SEAL-0077', route_id: route.id,
    origin_id: port.id, destination_id: icd.id,
    conveyance: { plate: 'KCD 774Q', container: 'CSQU3054383' }, declaration: '2026KEMSA0077001' }, 201);

  // ---- three days of history: the trip armed then, a fix every 10 s along the route ----
  // (the arming fix at the port goes: the history ends at the destination)
  const armed = now - 3 * 86400 - 120;
  sql(`UPDATE corridor.trips SET armed_at = to_timestamp(${armed}) WHERE id = '${trip.id}'`);
  sql(`DELETE FROM corridor.positions WHERE seal_id = 'KE-SEAL-0077'`);
  sql(`INSERT INTO corridor.positions (seal_id, ts, lat, lon, speed_kmh, battery, lock)
       SELECT 'KE-SEAL-0077', to_timestamp(${armed} + 10 + 10 * k), ST_Y(p), ST_X(p),
              CASE WHEN k % 3000 < 120 THEN 0 ELSE 55 + 25 * sin(k / 400.0) END, 90, 'locked'
       FROM corridor.routes r, generate_series(0, ${FIXES - 1}) k,
            LATERAL ST_LineInterpolatePoint(r.geom, k / ${FIXES - 1}.0) p
       WHERE r.id = ${route.id}`);
  // the middle of the journey: an unauthorised stop, with its events and incident
  const mid = armed + 10 + 10 * 13000;
  sql(`INSERT INTO corridor.events (seal_id, trip_id, kind, ts, lat, lon, details)
       SELECT seal_id, '${trip.id}', k, ts + d, lat, lon, '{"minutes": 42}'
       FROM corridor.positions, (VALUES ('stop_started', interval '0'),
                                        ('unauthorised_stop', interval '40 minutes')) v(k, d)
       WHERE seal_id = 'KE-SEAL-0077' AND ts = to_timestamp(${mid})`);
  const midIncident = sql(`INSERT INTO corridor.incidents (rule, severity, subject, seal_id,
         trip_id, opened_at, lat, lon)
       SELECT 'unauthorised_stop', 'high', 'KE-SEAL-0077', seal_id, '${trip.id}', ts, lat, lon
       FROM corridor.positions WHERE seal_id = 'KE-SEAL-0077' AND ts = to_timestamp(${mid})
       RETURNING id`);
  // the seal opened at the destination, through the real ingest
  await ping(now, -1.329, 36.893, 'open');
  await lib.waitFor('the seal_opened incident', () =>
    sql(`SELECT count(*) FROM corridor.incidents WHERE trip_id = '${trip.id}'
         AND rule = 'seal_opened'`) === '1');

  // ---- the map: the seal, its trip panel, the Replay button ----
  userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corridor-chromium-'));
  browser = await chromium.launchPersistentContext(userDir, {
    executablePath: '/usr/bin/chromium', headless: true,
    viewport: { width: 1400, height: 860 }, // a control-room screen
    args: ['--no-sandbox', '--disable-gpu'],
  });
  const page = browser.pages()[0] || await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', e => pageErrors.push(e.message));
  page.on('console', m => { if (m.type() === 'error') pageErrors.push(m.text()); });
  await page.goto(`${base}/#token=${token}`, { waitUntil: 'load' });
  await page.waitForFunction(() => window.corridor && window.corridor.connected &&
    window.corridor.seals.has('KE-SEAL-0077'), null, { timeout: 15000 });
  await page.click('.seal-icon svg');
  await page.waitForSelector('#trip-panel.open .replay-trip', { timeout: 10000 })
    .catch(() => fail('the trip panel has no Replay button'));
  await page.click('#trip-panel .replay-trip');
  await page.waitForFunction(() => window.corridor.replay.data && !window.corridor.replay.loading,
    null, { timeout: 15000 }).catch(() => fail('the replay did not load'));
  const R = () => page.evaluate(() => {
    const r = window.corridor.replay;
    return { cur: r.cur, t0: r.t0, t1: r.t1, index: r.index, playing: r.playing,
      follow: r.follow, speed: r.speed, frames: r.frames, pos: r.pos && [r.pos.lat, r.pos.lng],
      slider: +document.querySelector('#replay .rp-slider').value,
      time: document.querySelector('#replay .rp-time').textContent,
      centre: [window.corridor.map.getCenter().lat, window.corridor.map.getCenter().lng],
      inView: r.pos && window.corridor.map.getBounds().contains(r.pos) };
  });
  const info = await page.evaluate(() => {
    const d = window.corridor.replay.data;
    return { n: d.t.length, incidents: d.incidents.length, events: d.events.length,
      cps: d.route && d.route.checkpoints.length, panelOpen: !!document.querySelector('#trip-panel.open') };
  });
  if (info.n !== FIXES + 1) fail(`the replay has ${info.n} fixes, not ${FIXES + 1}`);
  if (info.incidents < 2) fail(`${info.incidents} incidents in the replay, not 2 or more`);
  if (info.panelOpen) fail('the trip panel should close when the replay opens');
  if (await page.locator('#replay .rp-mark.inc').count() !== info.incidents)
    fail('every incident is a mark on the timeline');
  if (await page.locator('#replay .rp-mark.ev').count() < 2) fail('the events are not on the timeline');
  if (await page.locator('path.rp-cp').count() !== 1) fail('the checkpoint is not on the map');
  if (await page.locator('path.rp-inc').count() !== info.incidents) fail('the incidents are not on the map');
  if (!(await page.locator('#replay .rp-chart path.rp-sp').getAttribute('d')).startsWith('M'))
    fail('no speed chart');
  const start = await R();
  if (start.cur !== start.t0 || start.index !== 0) fail(`replay should start at the first fix: ${JSON.stringify(start)}`);

  // ---- play at x1000 ----
  await page.click('#replay .rp-speed[data-speed="1000"]');
  await page.click('#replay .rp-play');
  await sleep(2500);
  const a = await R();
  if (!a.playing) fail('not playing');
  const advanced = a.cur - start.cur;
  if (advanced < 1000 || advanced > 4000) fail(`x1000 for 2.5 s advanced the clock ${advanced} s`);
  if (Math.abs(a.slider - a.cur) > 1.5) fail(`slider ${a.slider} is not at the clock ${a.cur}`);
  const iso = t => new Date(t * 1000).toISOString().slice(0, 19).replace('T', ' ') + 'Z';
  const b = await R();
  await page.click('#replay .rp-play'); // pause
  const p1 = await R();
  if (p1.playing) fail('pause did not pause');
  if (p1.time !== iso(Math.round(p1.cur)) && p1.time !== iso(p1.cur)) fail(`time label ${p1.time} is not the clock ${iso(p1.cur)}`);
  // the seal moved, and is on the track at the fix the clock says
  const onTrack = await page.evaluate(() => {
    const r = window.corridor.replay, d = r.data, i = r.index;
    const m = window.corridor.map.hasLayer ? r.pos : null;
    const dist = Math.hypot(d.lat[i] - m.lat, d.lon[i] - m.lng);
    const marker = document.querySelector('.rp-seal');
    return { i, dist, ti: d.t[i], cur: r.cur, next: d.t[i + 1], marker: !!marker };
  });
  if (onTrack.i < 100) fail(`the seal did not move along the track (fix ${onTrack.i})`);
  if (!(onTrack.ti <= onTrack.cur && onTrack.cur <= onTrack.next)) fail(`fix ${onTrack.i} is not the clock's`);
  if (onTrack.dist > 0.01) fail(`the seal is ${onTrack.dist}° off its fix`);
  if (!onTrack.marker) fail('no seal marker');
  const fps = (b.frames - start.frames) / 2.5;
  if (fps < 10) fail(`only ${fps.toFixed(1)} frames per second with ${FIXES} fixes`);
  await sleep(600);
  const p2 = await R();
  if (p2.cur !== p1.cur) fail('the clock runs while paused');

  // ---- a click on the middle incident's mark jumps there ----
  await page.click(`#replay .rp-mark.inc[data-id="${midIncident}"]`);
  const j = await R();
  if (Math.abs(j.cur - mid) > 0.5) fail(`the incident mark jumped to ${j.cur}, not ${mid}`);
  const at = JSON.parse(sql(`SELECT json_build_array(lat, lon) FROM corridor.incidents WHERE id = ${midIncident}`));
  if (Math.hypot(j.pos[0] - at[0], j.pos[1] - at[1]) > 0.001) fail(`the seal is not at the incident: ${j.pos} ${at}`);
  if (!j.inView) fail('the incident is not in view after the jump');
  await sleep(400);
  // the picture goes to the build; CORRIDOR_DOCS_SHOTS=1 also renews docs/replay.png (a test
  // run leaves the tree as it found it)
  const shots = path.join(build, 'screenshots');
  fs.mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, 'replay.png') });
  if (process.env.CORRIDOR_DOCS_SHOTS === '1')
    fs.copyFileSync(path.join(shots, 'replay.png'), path.join(root, 'docs/replay.png'));

  // ---- follow: the map keeps the seal in view while it plays ----
  await page.click('#replay .rp-follow');
  await page.evaluate(() => { window.corridor.map.setView([-4.5, 39.9], 11, { animate: false }); });
  await page.click('#replay .rp-play');
  await sleep(1500);
  const f = await R();
  if (!f.follow) fail('follow did not toggle on');
  if (!f.inView) fail(`follow: the seal ${f.pos} is out of view (centre ${f.centre})`);
  await page.click('#replay .rp-follow');
  if ((await R()).follow) fail('follow did not toggle off');
  await page.click('#replay .rp-play');

  // ---- the seal's window, from the panel of the same seal ----
  await page.click('#replay .rp-x');
  if (await page.locator('#replay.open').count()) fail('the replay did not close');
  await page.evaluate(() => { const c = window.corridor;
    c.map.setView(c.seals.get('KE-SEAL-0077').marker.getLatLng(), 9, { animate: false }); });
  await page.click('.seal-icon svg');
  await page.waitForSelector('#trip-panel.open .replay-seal', { timeout: 10000 })
    .catch(() => fail('the trip panel has no seal Replay button'));
  await page.click('#trip-panel .replay-seal');
  await page.waitForFunction(() => window.corridor.replay.data && !window.corridor.replay.loading,
    null, { timeout: 15000 }).catch(() => fail('the seal replay did not load'));
  const day = await page.evaluate(() => {
    const d = window.corridor.replay.data;
    return { n: d.t.length, trips: (d.trips || []).length, span: d.to - d.from };
  });
  // the 24 hours up to the latest fix: 8,640 fixes at 10 s and the last one
  if (day.span !== 86400 || day.trips !== 1 || Math.abs(day.n - 8641) > 13)
    fail(`the seal's day: ${JSON.stringify(day)}`);
  if (pageErrors.length) fail(`errors in the page: ${pageErrors.join(' | ')}`);
  console.log(`ok: ${info.n} fixes replayed at x1000 (${fps.toFixed(0)} frames/s), paused, ` +
    `jumped to incident #${midIncident}, followed; screenshot screenshots/replay.png`);
}

async function cleanup() {
  const s = server;
  server = null;
  await lib.cleanUp({ browser, userDir, procs: [s && s.proc], db });
}

lib.run('replay.test.js', main, cleanup, () => [['corridord log', server ? server.log() : '']]);
