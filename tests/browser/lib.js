/*
 * lib.js: what the browser tests share: the repository's playwright-core, the build
 * directory ($CORRIDOR_BUILD), and small helpers (a throwaway database through psql on
 * the libpq environment, free loopback ports, polling with a deadline).
 */
'use strict';
const fs = require('fs');
const path = require('path');
const net = require('net');
const { spawn, execFileSync } = require('child_process');

const root = path.resolve(__dirname, '../..');
const { chromium } = require(path.join(root, 'node_modules/playwright-core'));
const build = process.env.CORRIDOR_BUILD || path.join(root, 'build');

function fail(msg) { throw new Error(msg); }
function sleep(ms) { return new Promise(r => setTimeout(r, ms)); }
function psql(sql) {
  execFileSync('psql', ['-v', 'ON_ERROR_STOP=1', '-q', '-d', 'postgres', '-c', sql],
    { stdio: ['ignore', 'ignore', 'pipe'] });
}
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    s.on('error', reject);
  });
}
async function waitFor(what, fn, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    try { if (await fn()) return; } catch (e) { /* not yet */ }
    if (Date.now() > end) fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const corridord = path.join(build, 'corridord');

// Creates database db and starts corridord on free loopback ports against it, AIS only when
// opts.ais, RRU dispatch on its own port, opts.extra flags after the rest; resolves once
// /api/health says ok. The server's output is kept for log().
async function startCorridor(db, opts = {}) {
  for (const v of ['PGHOST', 'PGPORT', 'PGUSER'])
    if (!process.env[v]) fail(`${v} is not set: run through scripts/test or set the libpq env`);
  if (!fs.existsSync(corridord)) fail(`${corridord} not found: build first (CORRIDOR_BUILD)`);
  psql(`CREATE DATABASE ${db}`);
  const c = { httpPort: await freePort(), osmandPort: await freePort(),
    aisPort: opts.ais ? await freePort() : 0, output: '' };
  c.base = `http://127.0.0.1:${c.httpPort}`;
  c.proc = spawn(corridord, ['--db', `dbname=${db}`, '--http', `127.0.0.1:${c.httpPort}`,
    '--osmand', `127.0.0.1:${c.osmandPort}`, '--jt808', '',
    '--ais', opts.ais ? `127.0.0.1:${c.aisPort}` : '',
    '--dispatch', `tcp://127.0.0.1:${await freePort()}`,
    '--events-url', `inproc://corridor-events-${process.pid}`, ...(opts.extra || [])],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  c.proc.stdout.on('data', d => { c.output += d; });
  c.proc.stderr.on('data', d => { c.output += d; });
  c.proc.on('exit', (code, sig) => { c.output += `\n[corridord exited ${code} ${sig}]`; });
  c.log = (lines = 40) => c.output.trim().split('\n').slice(-lines).join('\n');
  await waitFor('/api/health', async () => {
    const r = await fetch(`${c.base}/api/health`);
    return r.ok && (await r.json()).status === 'ok';
  }, 30000);
  return c;
}

// A new API token of role for database db (`corridord token create`); extra: e.g.
// ['--unit', 'RRU-1'] for a unit's token.
function createToken(db, role = 'admin', name = 'browser-test', extra = []) {
  const out = execFileSync(corridord, ['token', 'create', '--role', role, '--name', name,
    ...extra, '--db', `dbname=${db}`], { stdio: ['ignore', 'pipe', 'ignore'] });
  return (String(out).match(/cor_[0-9a-f]+/) || [''])[0];
}

// Every later fetch of this process carries token (the pages get it as #token=).
function useToken(token) {
  const nodeFetch = globalThis.fetch;
  globalThis.fetch = (u, o = {}) => nodeFetch(u, { ...o,
    headers: { authorization: `Bearer ${token}`, ...(o.headers || {}) } });
}

// SIGTERM, then SIGKILL after 10 s.
async function stopProcess(p) {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  p.kill('SIGTERM');
  const t = Date.now();
  while (p.exitCode === null && p.signalCode === null && Date.now() - t < 10000) await sleep(50);
  if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}

// Closes the browser, removes its profile, stops the processes, drops the database.
async function cleanUp({ browser, userDir, procs, db }) {
  if (browser) await browser.close().catch(() => {});
  if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  for (const p of procs) await stopProcess(p);
  try { psql(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`); } catch (e) {
    console.error(`could not drop database ${db}: ${e.message}`);
  }
}

// Runs main; on failure prints the reason and the logs() tails; cleans up; exits 0 or 1.
function run(name, main, cleanup, logs) {
  main().then(async () => { await cleanup(); process.exit(0); }, async e => {
    console.error(`FAIL ${name}: ${e.message}`);
    for (const [label, text] of logs())
      if (text) console.error(`--- ${label} ---\n${text}`);
    await cleanup();
    process.exit(1);
  });
}

module.exports = { root, chromium, build, fail, sleep, psql, freePort, waitFor, startCorridor,
  createToken, useToken, stopProcess, cleanUp, run };
