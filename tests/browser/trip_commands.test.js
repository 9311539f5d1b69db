#!/usr/bin/env node
/*
 * trip_commands.test.js: the commands of a trip's seal in the map's trip panel and on the
 * arming page, and the actions each role is offered, against the real corridord in headless
 * Chromium with a real JT/T 808 e-lock (corridor-sim elocks) over a real socket.
 *
 * Creates its own database, starts $CORRIDOR_BUILD/corridord with a JT/T 808 listener, runs
 * one simulated e-lock, arms a trip of it from Mombasa port to Malaba (the e-lock is on the
 * road, far from Malaba), then:
 * - GET /api/me answers each role's token with its role, name and actor; a partner token is
 *   refused the commands (403), an arming token the approval (403).
 * - officer A (jane.wanjiru) clicks the e-lock: the trip panel shows the commands (the seal's
 *   own command panel stays closed); a locate sent from it goes queued -> ... -> confirmed in
 *   the panel, pushed over /ws; a report interval of 5 s is acknowledged; an unseal with a
 *   reason waits for approval, and A's own Approve is disabled (four eyes).
 * - the arming page, with an arming token: the trip's Commands show the unseal with Cancel and
 *   without Approve; the arming team requests a second unseal and cancels it.
 * - officer B (otieno.k) opens the trip panel, sees Approve and approves: the unseal goes on to
 *   confirmed when the lock reports open, on B's page and on A's.
 * - an rru token's seal panel offers no command actions.
 * Saves $CORRIDOR_BUILD/screenshots/trip-commands.png (officer B), trip-commands-own.png
 * (officer A's own request) and arming-commands.png.
 * Stops everything and drops the database whatever happens; exits non-zero on failure.
 */
'use strict';
const path = require('path');
const fs = require('fs');
const os = require('os');
const { spawn, execFileSync } = require('child_process');

const lib = require('./lib');
const { chromium, build, fail, waitFor } = lib;
const db = `web_trip_cmds_${process.pid}_${Date.now() % 100000}`;
const SEAL = 'KE-ELOCK-0001';
let server = null, sim = null, simOut = '', browser = null, userDir = null;

function sql(q) {
  return String(execFileSync('psql', ['-v', 'ON_ERROR_STOP=1', '-At', '-d', db, '-c', q])).trim();
}

async function main() {
  const jt808Port = await lib.freePort();
  server = await lib.startCorridor(db, { extra: ['--jt808', `127.0.0.1:${jt808Port}`,
    '--sweep-interval', '1'] });
  const { base } = server;
  sql(`INSERT INTO corridor.rrus (id, name, base) VALUES ('RRU-VOI', 'Voi unit',
    'SRID=4326;POINT(38.56 -3.40)')`);
  const tok = {
    officerA: lib.createToken(db, 'officer', 'jane.wanjiru'),
    officerB: lib.createToken(db, 'officer', 'otieno.k'),
    arming: lib.createToken(db, 'arming', 'malaba.team'),
    rru: lib.createToken(db, 'rru', 'voi', ['--unit', 'RRU-VOI']),
    partner: lib.createToken(db, 'partner', 'ug', ['--country', 'UG']),
  };
  const as = (t, p, o = {}) => fetch(`${base}${p}`, { ...o,
    headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' } });

  // ---- GET /api/me ----
  const me = {};
  for (const [k, t] of Object.entries(tok)) {
    const r = await as(t, '/api/me');
    if (r.status !== 200) fail(`GET /api/me as ${k}: ${r.status}`);
    me[k] = await r.json();
  }
  if (me.officerA.role !== 'officer' || me.officerA.name !== 'jane.wanjiru' ||
      me.officerA.actor !== 'officer:jane.wanjiru') fail(`/api/me officer: ${JSON.stringify(me.officerA)}`);
  if (me.arming.role !== 'arming' || me.rru.role !== 'rru' || me.rru.unit !== 'RRU-VOI' ||
      me.partner.role !== 'partner' || me.partner.country !== 'UG')
    fail(`/api/me: ${JSON.stringify(me)}`);
  if ((await fetch(`${base}/api/me`)).status !== 401) fail('/api/me without a token was not 401');

  sim = spawn(path.join(build, 'corridor-sim'), ['elocks', '--http', `127.0.0.1:${server.httpPort}`,
    '--jt808', `127.0.0.1:${jt808Port}`, '--token', tok.officerA, '--seals', '1', '--interval', '2',
    '--duration', '300'], { stdio: ['ignore', 'pipe', 'pipe'] });
  sim.stdout.on('data', d => { simOut += d; });
  sim.stderr.on('data', d => { simOut += d; });

  // ---- an armed trip of the e-lock, Mombasa port to Malaba ----
  await waitFor('the e-lock reporting locked', () =>
    sql(`SELECT count(*) FROM corridor.latest WHERE seal_id = '${SEAL}' AND lock = 'locked'`) === '1',
  20000);
  sql(`INSERT INTO corridor.geofences(name, kind, geom) VALUES
    ('Mombasa port', 'port', ST_Multi(ST_MakeEnvelope(39.63, -4.08, 39.68, -4.04, 4326))),
    ('Malaba', 'border_post', ST_Multi(ST_MakeEnvelope(34.26, 0.62, 34.29, 0.65, 4326)))`);
  sql(`SELECT corridor.route_create(json_build_object('name', 'Mombasa - Malaba', 'corridor_m', 2000,
    'max_transit_minutes', 6000, 'max_speed_kmh', 1000000, 'geometry',
    '{"type":"LineString","coordinates":[[39.655,-4.06],[36.817,-1.286],[34.275,0.636]]}'::json,
    'checkpoints', '[]'::json))`);
  sql(`SELECT corridor.trip_arm(json_build_object('seal_id', '${SEAL}',
    'route_id', (SELECT max(id) FROM corridor.routes),
    'origin_id', (SELECT id FROM corridor.geofences WHERE name = 'Mombasa port'),
    'destination_id', (SELECT id FROM corridor.geofences WHERE name = 'Malaba'),
    'conveyance', json_build_object('plate', 'KCA 123A', 'container', 'CSQU3054383'),
    'declaration', '2026MSA0001'))`);
  const trip = sql(`SELECT id FROM corridor.trips WHERE seal_id = '${SEAL}'`);
  if (!trip) fail('the trip was not armed');

  // ---- the server's word on the roles ----
  if ((await as(tok.partner, `/api/seals/${SEAL}/commands`)).status !== 403)
    fail('a partner token could read the commands');

  userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corridor-chromium-'));
  browser = await chromium.launchPersistentContext(userDir, {
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 900 },
  });
  const pageErrors = [];
  async function open(url, who) {
    const page = await browser.newPage();
    page.answers = [];
    page.on('pageerror', e => pageErrors.push(`${who}: ${e}`));
    page.on('console', m => {
      // the refusals the test provokes (403 four eyes is not clickable; none expected)
      if (m.type() === 'error') pageErrors.push(`${who}: ${m.text()}`);
    });
    page.on('dialog', d => d.accept(page.answers.shift() || ''));
    await page.goto(`${base}${url}`, { waitUntil: 'load' });
    return page;
  }
  async function openTrip(page, who) {
    await page.waitForFunction(s => window.corridor && window.corridor.connected &&
      window.corridor.seals.has(s), SEAL, { timeout: 20000 })
      .catch(() => fail(`${who}: the e-lock never showed on the map`));
    await page.click('.seal-icon svg');
    await page.waitForSelector('#trip-panel.open .trip-commands .actions, #trip-panel.open .trip-commands li',
      { timeout: 10000 }).catch(() => fail(`${who}: the trip panel showed no commands`));
  }
  const T = '#trip-panel .trip-commands';
  const panelText = async page => page.textContent('#trip-panel').catch(() => '');

  // ---- officer A: the trip panel, a locate through its states, an interval, an unseal ----
  const a = await open(`/?token=${tok.officerA}`, 'officer A');
  await openTrip(a, 'officer A');
  if (!(await a.textContent('#trip-panel')).includes('KCA 123A')) fail('the trip panel shows no trip');
  await a.waitForTimeout(500);
  if (await a.locator('#command-panel.open').count())
    fail('the seal command panel stayed open beside the trip panel');
  await a.evaluate(sel => {
    window.seenStates = {};
    const note = () => document.querySelectorAll(`${sel} li[data-id]`).forEach(li => {
      const s = (window.seenStates[li.dataset.id] = window.seenStates[li.dataset.id] || []);
      if (s[s.length - 1] !== li.dataset.state) s.push(li.dataset.state);
    });
    new MutationObserver(note).observe(document.getElementById('trip-panel'),
      { subtree: true, childList: true, attributes: true });
  }, T);
  await a.click(`${T} button[data-do="locate"]`);
  await a.waitForSelector(`${T} li[data-state="confirmed"]`, { timeout: 15000 })
    .catch(async () => fail(`locate not confirmed in the trip panel: ${await panelText(a)}`));
  const locateId = sql(`SELECT id FROM corridor.commands WHERE command = 'locate'`);
  const seen = await a.evaluate(id => window.seenStates[id], locateId);
  if (!seen || seen[0] !== 'queued' || seen[seen.length - 1] !== 'confirmed')
    fail(`locate states seen in the panel: ${JSON.stringify(seen)}`);
  const order = ['queued', 'sent', 'acknowledged', 'confirmed'];
  if (seen.some((st, i) => i && order.indexOf(st) <= order.indexOf(seen[i - 1])))
    fail(`the panel showed the locate go back: ${seen.join(' -> ')}`);

  a.answers.push('5');
  await a.click(`${T} button[data-do="set_interval"]`);
  await waitFor('the interval acknowledged in the trip panel', async () =>
    (await a.locator(`${T} li[data-state="acknowledged"], ${T} li[data-state="confirmed"]`).count()) >= 2,
  20000).catch(async e => fail(`${e.message}: ${await panelText(a)}`));

  a.answers.push('inspection at the Voi weighbridge');
  await a.click(`${T} button[data-do="unseal"]`);
  await a.waitForSelector(`${T} li[data-state="awaiting_approval"]`, { timeout: 10000 })
    .catch(async () => fail(`unseal not awaiting approval: ${await panelText(a)}`));
  const unsealId = sql(`SELECT id FROM corridor.commands WHERE command = 'unseal'`);
  const mine = a.locator(`${T} li[data-id="${unsealId}"] button[data-approve]`);
  if ((await mine.count()) !== 1 || !(await mine.isDisabled()))
    fail("officer A's own unseal request did not show a disabled Approve");
  if (!(await a.locator(`${T} li[data-id="${unsealId}"] button[data-cancel]`).count()))
    fail('the unseal awaiting approval had no Cancel');
  const shots = path.join(build, 'screenshots');
  fs.mkdirSync(shots, { recursive: true });
  await a.screenshot({ path: path.join(shots, 'trip-commands-own.png'),
    clip: { x: 40, y: 40, width: 440, height: 620 } });

  // ---- the arming team: no Approve; it requests and cancels ----
  if ((await as(tok.arming, `/api/seals/${SEAL}/commands/${unsealId}/approve`, { method: 'POST' }))
    .status !== 403) fail('an arming token could approve');
  const arm = await open(`/arming.html?token=${tok.arming}`, 'arming');
  await arm.waitForSelector(`#trips tr[data-seal="${SEAL}"] button.cmd`, { timeout: 10000 });
  await arm.click(`#trips tr[data-seal="${SEAL}"] button.cmd`);
  const R = `#trips tr.cmdrow[data-seal="${SEAL}"]`;
  await arm.waitForSelector(`${R} li[data-id="${unsealId}"]`, { timeout: 10000 })
    .catch(async () => fail(`the arming page shows no commands: ${await arm.textContent('#trips')}`));
  if (await arm.locator(`${R} button[data-approve]`).count()) fail('the arming team was offered Approve');
  if (!(await arm.locator(`${R} li[data-id="${unsealId}"] button[data-cancel]`).count()))
    fail('the arming team was not offered Cancel');
  for (const d of ['locate', 'set_interval', 'unseal'])
    if (!(await arm.locator(`${R} button[data-do="${d}"]`).count())) fail(`arming: no ${d} action`);
  arm.answers.push('seal check before the border');
  await arm.click(`${R} button[data-do="unseal"]`);
  await waitFor('a second unseal awaiting approval', async () =>
    (await arm.locator(`${R} li[data-state="awaiting_approval"]`).count()) === 2, 10000);
  const second = sql(`SELECT max(id) FROM corridor.commands WHERE command = 'unseal'`);
  await arm.click(`${R} li[data-id="${second}"] button[data-cancel]`);
  await arm.waitForSelector(`${R} li[data-id="${second}"][data-state="cancelled"]`, { timeout: 10000 });
  // officer A sees the cancellation live
  await a.waitForSelector(`${T} li[data-id="${second}"][data-state="cancelled"]`, { timeout: 10000 })
    .catch(() => fail('the cancellation did not reach the trip panel over /ws'));
  await arm.screenshot({ path: path.join(shots, 'arming-commands.png'), fullPage: true });

  // ---- officer B approves: the unseal is sent and confirmed ----
  const b = await open(`/?token=${tok.officerB}`, 'officer B');
  await openTrip(b, 'officer B');
  const approve = b.locator(`${T} li[data-id="${unsealId}"] button[data-approve]`);
  await approve.waitFor({ timeout: 10000 }).catch(() => fail('officer B saw no Approve'));
  if (await approve.isDisabled()) fail("Approve is disabled for another officer's request");
  await approve.click();
  await b.waitForSelector(`${T} li[data-id="${unsealId}"][data-state="confirmed"]`, { timeout: 20000 })
    .catch(async () => fail(`the approved unseal was not confirmed: ${await panelText(b)}`));
  if (!/approved by officer:otieno\.k/.test(await b.textContent(`${T} li[data-id="${unsealId}"]`)))
    fail('the approval is not shown');
  await a.waitForSelector(`${T} li[data-id="${unsealId}"][data-state="confirmed"]`, { timeout: 10000 })
    .catch(() => fail("officer A's trip panel did not follow the unseal"));
  await b.bringToFront();
  await b.screenshot({ path: path.join(shots, 'trip-commands.png') });

  // ---- an rru token: no command actions ----
  const r = await open(`/?token=${tok.rru}`, 'rru');
  await r.waitForFunction(s => window.corridor && window.corridor.connected &&
    window.corridor.seals.has(s), SEAL, { timeout: 20000 });
  await r.click('.seal-icon svg');
  await r.waitForSelector('#command-panel.open', { timeout: 10000 });
  await waitFor('the rru note', async () =>
    /not shown to the rru role/.test(await r.textContent('#command-panel')), 5000);
  if (await r.locator('#command-panel button.act, #trip-panel button.act').count())
    fail('an rru token was offered command actions');

  // the map is refused /api/trips and /api/geofences with an rru token (403), as it should be;
  // map.js then logs the refused geofences as invalid GeoJSON (an rru works on rru.html)
  const unexpected = pageErrors.filter(e => !/^rru: (.*status of 403|geofences Error)/.test(e));
  if (unexpected.length) fail(`errors in the pages: ${unexpected.join(' | ')}`);
  console.log(`ok: trip panel commands live (locate ${seen.join(' -> ')}), interval, unseal ` +
    `approved by a second officer and confirmed; arming: no Approve, cancel; rru: no actions; ` +
    `${shots}/trip-commands.png, trip-commands-own.png, arming-commands.png`);
}

async function cleanup() {
  const s = server;
  server = null;
  await lib.cleanUp({ browser, userDir, procs: [sim, s && s.proc], db });
}

lib.run('trip_commands.test.js', main, cleanup, () => [['corridord log', server ? server.log() : ''],
  ['corridor-sim elocks', simOut]]);
