#!/usr/bin/env node
/*
 * signin.test.js: officer sign-in in headless Chromium against the real corridord.
 *
 * Makes an officer account with `corridord user create`, opens the map with neither a
 * session nor a token (it must send the browser to /signin.html), signs in through the
 * form with a wrong password (told so, no cookie) and then the right one, lands on the
 * map with a live websocket carried by the HttpOnly cookie alone (no token anywhere), acts
 * once (the CSRF header is added by auth.js: the audit names officer:NAME), signs out with
 * the button and checks that the session is gone. A token link (?token=) still opens the
 * map in token mode. Saves $CORRIDOR_BUILD/screenshots/signin.png.
 */
'use strict';
const path = require('path');
const fs = require('fs');
const os = require('os');
const { execFileSync } = require('child_process');

const lib = require('./lib');
const { chromium, fail, waitFor } = lib;

const build = lib.build;
const db = `web_signin_${process.pid}_${Date.now() % 100000}`;
let server = null, browser = null, userDir = null;
const PW = 'kilindini harbour 2026';

function q(sql) {
  return String(execFileSync('psql', ['-At', '-d', db, '-c', sql])).trim();
}

async function main() {
  server = await lib.startCorridor(db);
  const { base } = server;
  execFileSync(path.join(build, 'corridord'), ['user', 'create', 'jane.wanjiru', '--role', 'officer',
    '--display', 'Jane Wanjiru', '--db', `dbname=${db}`], { input: `${PW}\n`, stdio: ['pipe', 'ignore', 'ignore'] });

  userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corridor-chromium-'));
  browser = await chromium.launchPersistentContext(userDir, {
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 800 },
  });
  const page = browser.pages()[0] || await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', e => pageErrors.push(String(e)));

  // ---- neither a session nor a token: to the sign-in page, and back after ----
  await page.goto(`${base}/`, { waitUntil: 'load' });
  await page.waitForURL(/\/signin\.html\?next=%2F$/, { timeout: 10000 })
    .catch(() => fail(`the map did not send us to the sign-in page (at ${page.url()})`));
  await page.fill('#name', 'jane.wanjiru');
  await page.fill('#password', 'not the password');
  await page.click('#go');
  await page.waitForFunction(() => /Wrong name or password/.test(document.getElementById('error').textContent),
    null, { timeout: 10000 }).catch(() => fail('a wrong password was not told'));
  if ((await browser.cookies()).some(c => c.name === 'corridor_session'))
    fail('a failed sign-in set a cookie');

  await page.fill('#password', PW);
  await page.click('#go');
  await page.waitForURL(`${base}/`, { timeout: 10000 })
    .catch(() => fail(`signed in but not back on the map (at ${page.url()})`));
  const cookie = (await browser.cookies()).find(c => c.name === 'corridor_session');
  if (!cookie) fail('no session cookie after signing in');
  if (!cookie.httpOnly || cookie.sameSite !== 'Strict' || cookie.path !== '/')
    fail(`cookie flags: ${JSON.stringify({ httpOnly: cookie.httpOnly, sameSite: cookie.sameSite, path: cookie.path })}`);
  if (await page.evaluate(() => document.cookie.includes('corridor_session')))
    fail('the page script can read the session cookie');

  // ---- the map, live over /ws with the cookie only ----
  await page.waitForFunction(() => window.corridor && window.corridor.connected &&
    window.corridor.snapshots >= 1, null, { timeout: 15000 })
    .catch(() => fail('the map did not connect with the session'));
  if (await page.evaluate(() => window.corridorAuth.token() !== '' || !!localStorage.getItem('corridor.token')))
    fail('session mode holds a token');
  await page.waitForSelector('#signout', { timeout: 5000 }).catch(() => fail('no sign-out button'));
  const who = await page.textContent('#signed-in');
  if (who !== 'jane.wanjiru') fail(`signed-in name shown as "${who}"`);

  // one state-changing call from the page: auth.js adds the CSRF header
  const st = await page.evaluate(async () => (await fetch('/api/watchlist', { method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ mmsi: 636012345, reason: 'browser test', declaration: 'KE-2026-9' }) })).status);
  if (st !== 201) fail(`POST /api/watchlist from the page: ${st}`);
  if (q("SELECT actor FROM corridor.watchlist") !== 'officer:jane.wanjiru')
    fail(`watchlist actor: ${q('SELECT actor FROM corridor.watchlist')}`);
  // without it, the server refuses
  const bare = await page.evaluate(async () => {
    const real = window.fetch;
    return (await real('/api/watchlist', { method: 'POST', headers: { 'X-CSRF-Token': 'x' }, body: '{}' })).status;
  });
  if (bare !== 403) fail(`a wrong CSRF token: ${bare}`);

  const shots = path.join(build, 'screenshots');
  fs.mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, 'signin.png') });

  // ---- sign out ----
  await page.click('#signout');
  await page.waitForURL(/\/signin\.html/, { timeout: 10000 })
    .catch(() => fail(`signing out did not lead to the sign-in page (at ${page.url()})`));
  if (q('SELECT count(*) FROM corridor.sessions') !== '0') fail('the session is still in the database');
  const after = await page.evaluate(async () => (await fetch('/api/session')).status);
  if (after !== 401) fail(`GET /api/session after signing out: ${after}`);

  // ---- an admin account on the accounts page ----
  execFileSync(path.join(build, 'corridord'), ['user', 'create', 'ops.lead', '--role', 'admin',
    '--db', `dbname=${db}`], { input: 'ops lead pass 77\n', stdio: ['pipe', 'ignore', 'ignore'] });
  await page.goto(`${base}/admin.html`, { waitUntil: 'load' });
  await page.waitForURL(/\/signin\.html\?next=%2Fadmin\.html$/, { timeout: 10000 })
    .catch(() => fail(`admin.html without a session did not go to sign-in (at ${page.url()})`));
  await page.fill('#name', 'ops.lead');
  await page.fill('#password', 'ops lead pass 77');
  await page.click('#go');
  await page.waitForURL(`${base}/admin.html`, { timeout: 10000 })
    .catch(() => fail(`the admin was not brought back to admin.html (at ${page.url()})`));
  await page.waitForSelector('#users tr[data-name="jane.wanjiru"]', { timeout: 10000 })
    .catch(() => fail('the accounts page does not list jane.wanjiru'));
  await page.fill('#create input[name="name"]', 'otieno.k');
  await page.fill('#create input[name="display_name"]', 'K. Otieno');
  await page.selectOption('#create select[name="role"]', 'arming');
  await page.fill('#create input[name="password"]', 'arming team pass');
  await page.click('#create button[type="submit"]');
  await page.waitForSelector('#users tr[data-name="otieno.k"]', { timeout: 10000 })
    .catch(async () => fail(`the new account is not listed: ${await page.textContent('#msg')}`));
  if (q("SELECT role || ' ' || display_name FROM corridor.users WHERE name = 'otieno.k'") !== 'arming K. Otieno')
    fail('the account made on the page is not as given');
  if (q("SELECT actor FROM corridor.user_audit WHERE action = 'create' AND name = 'otieno.k'") !== 'officer:ops.lead')
    fail('the creation is not audited as officer:ops.lead');
  page.once('dialog', d => d.accept());
  await page.click('#users tr[data-name="otieno.k"] button.danger');
  await page.waitForFunction(() => /disabled/.test(document.querySelector('#users tr[data-name="otieno.k"]').textContent),
    null, { timeout: 10000 }).catch(() => fail('disabling on the page did not show'));
  await page.click('#users tr[data-name="ops.lead"] button:text("Sessions")');
  await page.waitForSelector('#sessions tbody tr td.mono', { timeout: 10000 })
    .catch(() => fail('the admin\'s own session is not listed'));
  await page.screenshot({ path: path.join(shots, 'admin.png') });
  await page.click('#signout');
  await page.waitForURL(/\/signin\.html/, { timeout: 10000 });

  // ---- token mode still works as before ----
  const token = lib.createToken(db, 'officer', 'browser-token');
  await page.goto(`${base}/?token=${token}`, { waitUntil: 'load' });
  await page.waitForFunction(() => window.corridor && window.corridor.connected, null, { timeout: 15000 })
    .catch(() => fail('token mode: the map did not connect'));
  if (/token=/.test(page.url())) fail('token mode: the token stayed in the address bar');
  if (/signin/.test(page.url())) fail('token mode: sent to the sign-in page');
  await waitFor('no sign-out button in token mode', async () => (await page.$('#signout')) === null, 2000);
  if (pageErrors.length) fail(`errors in the page: ${pageErrors.join(' | ')}`);
  console.log(`ok: sent to sign-in, signed in, map live by cookie, CSRF added, signed out; accounts page; token mode intact; ` +
    `screenshot ${path.join(shots, 'signin.png')}`);
}

async function cleanup() {
  const s = server;
  server = null;
  await lib.cleanUp({ browser, userDir, procs: [s && s.proc], db });
}

lib.run('signin.test.js', main, cleanup, () => [['corridord log', server ? server.log() : '']]);
