#!/usr/bin/env node
/*
 * commands.test.js: the map's command panel against the real corridord in headless Chromium,
 * with a real JT/T 808 e-lock (corridor-sim elocks) over a real socket.
 *
 * Creates its own database, starts $CORRIDOR_BUILD/corridord with a JT/T 808 listener, runs
 * one simulated e-lock that answers commands, opens the map, clicks the e-lock, asks it to
 * locate itself (the command goes queued -> sent -> confirmed in the panel, pushed over the
 * websocket), then unseals it with a reason (no trip: queued at once; confirmed when the lock
 * reports open) and checks that a set_interval of 0 s is refused in the panel with the
 * server's reason. Saves $CORRIDOR_BUILD/screenshots/commands.png.
 * Stops everything and drops the database whatever happens; exits non-zero on failure.
 */
'use strict';
const path = require('path');
const fs = require('fs');
const os = require('os');
const { spawn, execFileSync } = require('child_process');

const lib = require('./lib');
const { chromium, build, fail, waitFor } = lib;
const db = `web_commands_${process.pid}_${Date.now() % 100000}`;
let server = null, sim = null, simOut = '', browser = null, userDir = null;

async function main() {
  const jt808Port = await lib.freePort();
  server = await lib.startCorridor(db, { extra: ['--jt808', `127.0.0.1:${jt808Port}`,
    '--sweep-interval', '1'] });
  const { base } = server;
  const token = lib.createToken(db, 'officer', 'commands.test.js');
  sim = spawn(path.join(build, 'corridor-sim'), ['elocks', '--http', `127.0.0.1:${server.httpPort}`,
    '--jt808', `127.0.0.1:${jt808Port}`, '--token', token, '--seals', '1', '--interval', '2',
    '--duration', '120'], { stdio: ['ignore', 'pipe', 'pipe'] });
  sim.stdout.on('data', d => { simOut += d; });
  sim.stderr.on('data', d => { simOut += d; });

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
  page.on('console', m => {
    if (m.type() === 'error' && !/status of 422 /.test(m.text())) pageErrors.push(m.text());
  });
  const answers = [];
  page.on('dialog', d => d.accept(answers.shift() || ''));
  await page.goto(`${base}/?token=${token}`, { waitUntil: 'load' });
  await page.waitForFunction(() => window.corridor && window.corridor.connected &&
    window.corridor.seals.has('KE-ELOCK-0001'), null, { timeout: 20000 })
    .catch(() => fail('the e-lock never showed on the map'));
  await page.click('.seal-icon svg');
  await page.waitForSelector('#command-panel.open', { timeout: 10000 })
    .catch(() => fail('the command panel did not open on a click on the seal'));

  // locate: sent, answered with a position (0x0201), confirmed; the panel follows over /ws
  await page.click('#command-panel button[data-do="locate"]');
  await page.waitForSelector('#command-panel li[data-state="confirmed"]', { timeout: 15000 })
    .catch(() => fail('locate was not shown confirmed'));

  // unseal, with a reason: the lock opens (0x8500 answered by 0x0500 reporting open)
  answers.push('inspection at Malaba');
  await page.click('#command-panel button[data-do="unseal"]');
  await waitFor('the unseal confirmed in the panel', async () =>
    (await page.locator('#command-panel li[data-state="confirmed"]').count()) === 2, 15000)
    .catch(async e => fail(`${e.message}; the panel says: ${await page.textContent('#command-panel')}`));
  const audit = String(execFileSync('psql', ['-At', '-d', db, '-c', `SELECT actor || ' ' || note
    FROM corridor.command_audit a JOIN corridor.commands c ON c.id = a.command_id
    WHERE c.command = 'unseal' AND a.action = 'request'`]));
  if (!/officer:commands\.test\.js inspection at Malaba/.test(audit)) fail(`audit: ${audit}`);

  // a refusal shows with the server's reason
  answers.push('0');
  await page.click('#command-panel button[data-do="set_interval"]');
  await page.waitForSelector('#command-panel .error', { timeout: 5000 });
  const err = await page.textContent('#command-panel .error');
  if (!/bad_params: seconds must be a whole number/.test(err)) fail(`refusal shown: "${err}"`);

  const shots = path.join(build, 'screenshots');
  fs.mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, 'commands.png') });
  if (pageErrors.length) fail(`errors in the page: ${pageErrors.join(' | ')}`);
  console.log(`ok: locate and unseal confirmed in the panel, refusal shown; ${shots}/commands.png`);
}

async function cleanup() {
  const s = server;
  server = null;
  await lib.cleanUp({ browser, userDir, procs: [sim, s && s.proc], db });
}

lib.run('commands.test.js', main, cleanup, () => [['corridord log', server ? server.log() : ''],
  ['corridor-sim elocks', simOut]]);
