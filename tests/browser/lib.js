/*
 * lib.js: what the browser tests share: the repository's playwright-core, the build
 * directory ($CORRIDOR_BUILD), and small helpers (a throwaway database through psql on
 * the libpq environment, free loopback ports, polling with a deadline).
 */
'use strict';
const path = require('path');
const net = require('net');
const { execFileSync } = require('child_process');

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

module.exports = { root, chromium, build, fail, sleep, psql, freePort, waitFor };
