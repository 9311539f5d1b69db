// bench/latency.mjs: ping -> incident latency as an officer's map sees it.
//
// Connects to /ws (subprotocol corridor.v1) with a bounding-box filter around the probe
// zone, and drives the probe seals (BENCH-PROBE-nn, terminals 3 + 11 digits, bench/setup.sql)
// over their own JT/T 808 connections: each probe in turn reports a fix outside the
// restricted probe zone, then one inside it. The send time of the inside fix is taken when
// it is written to the socket; the receipt of the incident message for that seal on the
// websocket ends the sample (restricted_zone_entry opens, or re-entry updates it, so every
// entry produces one incident message). Same process, same clock.
//
// Run with: node --experimental-websocket bench/latency.mjs --http 127.0.0.1:8080
//   --jt808 127.0.0.1:6808 --probes 20 --rate 10 --duration 60 [--token TOKEN]
// Prints one JSON line: samples, missed (no incident within 5 s), p50_ms, p99_ms, max_ms.
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
    return acc;
}, []));
const HTTP = args.http || '127.0.0.1:8080';
const JT = (args.jt808 || '127.0.0.1:6808').split(':');
const PROBES = +(args.probes || 20);
const RATE = +(args.rate || 10);         // entries per second over all probes
const DURATION = +(args.duration || 30); // seconds
const ZONE = { lat: 2.5, lon: 35.0 };    // bench/setup.sql: 'BENCH probe zone', 5 km
const OUTSIDE = { lat: 2.7, lon: 35.0 };
const TIMEOUT_MS = 5000;
const TOKEN = args.token || process.env.CORRIDOR_TOKEN || '';

// ---- JT/T 808 (2013 header) ----
function bcd(digits) {
    const b = Buffer.alloc(digits.length / 2);
    for (let i = 0; i < b.length; i++)
        b[i] = ((digits.charCodeAt(2 * i) - 48) << 4) | (digits.charCodeAt(2 * i + 1) - 48);
    return b;
}
function frame(msgId, terminal, serial, body) {
    const h = Buffer.alloc(12);
    h.writeUInt16BE(msgId, 0);
    h.writeUInt16BE(body.length, 2);
    bcd(terminal).copy(h, 4);
    h.writeUInt16BE(serial & 0xffff, 10);
    const raw = Buffer.concat([h, body]);
    let cs = 0;
    for (const x of raw) cs ^= x;
    const out = [0x7e];
    for (const x of [...raw, cs]) {
        if (x === 0x7e) out.push(0x7d, 0x02);
        else if (x === 0x7d) out.push(0x7d, 0x01);
        else out.push(x);
    }
    out.push(0x7e);
    return Buffer.from(out);
}
function unescape(b) {
    const out = [];
    for (let i = 0; i < b.length; i++) {
        if (b[i] === 0x7d && i + 1 < b.length) { out.push(b[i + 1] === 0x02 ? 0x7e : 0x7d); i++; }
        else out.push(b[i]);
    }
    return Buffer.from(out);
}
function location(lat, lon, epochS) {
    const b = Buffer.alloc(28);
    b.writeUInt32BE(0, 0);
    b.writeUInt32BE((1 << 1) | (1 << 12) | (lat < 0 ? 4 : 0) | (lon < 0 ? 8 : 0), 4);
    b.writeUInt32BE(Math.round(Math.abs(lat) * 1e6), 8);
    b.writeUInt32BE(Math.round(Math.abs(lon) * 1e6), 12);
    b.writeUInt16BE(1000, 16);
    b.writeUInt16BE(400, 18);
    b.writeUInt16BE(0, 20);
    const d = new Date((epochS + 8 * 3600) * 1000); // device clock GMT+8
    const p = (n) => String(n).padStart(2, '0');
    const s = p(d.getUTCFullYear() % 100) + p(d.getUTCMonth() + 1) + p(d.getUTCDate()) +
        p(d.getUTCHours()) + p(d.getUTCMinutes()) + p(d.getUTCSeconds());
    bcd(s).copy(b, 22);
    return b;
}

class Probe {
    constructor(n) {
        this.seal = 'BENCH-PROBE-' + String(n).padStart(2, '0');
        this.terminal = '3' + String(n).padStart(11, '0');
        this.serial = 1;
        this.t = Math.floor(Date.now() / 1000) + 2; // device seconds: real time, one per fix
        this.buf = Buffer.alloc(0);
        this.sentAt = null;
    }
    send(id, body) { this.sock.write(frame(id, this.terminal, this.serial++, body)); }
    open() {
        return new Promise((resolve, reject) => {
            this.sock = net.connect(+JT[1], JT[0], () => {
                this.sock.setNoDelay(true);
                const reg = Buffer.alloc(37);
                reg.writeUInt16BE(11, 0);
                reg.write('CSIM', 4);
                reg.write('PROBE', 9);
                reg.write('P' + this.terminal.slice(6), 29);
                this.send(0x0100, reg);
            });
            this.sock.on('error', reject);
            this.sock.on('data', (d) => {
                this.buf = Buffer.concat([this.buf, d]);
                let i;
                while ((i = this.buf.indexOf(0x7e, 1)) > 0) {
                    const f = unescape(this.buf.subarray(1, i));
                    this.buf = this.buf.subarray(i + 1);
                    if (f.length < 12) continue;
                    const id = f.readUInt16BE(0), body = f.subarray(12, f.length - 1);
                    if (id === 0x8100) {
                        if (body[2] !== 0) return reject(new Error(this.seal + ': registration refused'));
                        this.send(0x0102, body.subarray(3));
                    } else if (id === 0x8001 && body.readUInt16BE(2) === 0x0102) {
                        if (body[4] !== 0) return reject(new Error(this.seal + ': auth refused'));
                        resolve();
                    }
                }
            });
        });
    }
    tick() { this.t = Math.max(this.t + 1, Math.floor(Date.now() / 1000)); return this.t; }
    exit() { this.send(0x0200, location(OUTSIDE.lat, OUTSIDE.lon, this.tick())); }
    enter() {
        this.send(0x0200, location(ZONE.lat, ZONE.lon, this.tick()));
        this.sentAt = performance.now();
    }
}

const samples = [];
let missed = 0;
const probes = [];
for (let n = 1; n <= PROBES; n++) probes.push(new Probe(n));
const bySeal = new Map(probes.map((p) => [p.seal, p]));

const ws = new WebSocket(`ws://${HTTP}/ws` + (TOKEN ? `?token=${encodeURIComponent(TOKEN)}` : ''),
    'corridor.v1');
await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error(`websocket to ws://${HTTP}/ws refused (token?)`));
});
ws.send(JSON.stringify({ type: 'filter', bbox: [ZONE.lon - 0.5, ZONE.lat - 0.5, ZONE.lon + 0.5, ZONE.lat + 0.5] }));
ws.onmessage = (ev) => {
    const text = typeof ev.data === 'string' ? ev.data : Buffer.from(ev.data).toString();
    if (!text.includes('"incident"') || !text.includes('BENCH-PROBE-')) return;
    const m = JSON.parse(text);
    if (m.type !== 'incident') return;
    const p = bySeal.get(m.seal_id);
    if (p && p.sentAt !== null) {
        samples.push(performance.now() - p.sentAt);
        p.sentAt = null;
    }
};
await Promise.all(probes.map((p) => p.open()));
for (const p of probes) p.exit(); // start outside

const end = performance.now() + DURATION * 1000;
let k = 0;
while (performance.now() < end) {
    const p = probes[k++ % probes.length];
    if (p.sentAt !== null) {
        if (performance.now() - p.sentAt > TIMEOUT_MS) { missed++; p.sentAt = null; }
    } else {
        p.enter();
        setTimeout(() => p.exit(), 1000 / RATE * probes.length / 2);
    }
    await new Promise((r) => setTimeout(r, 1000 / RATE));
}
await new Promise((r) => setTimeout(r, 2000));
for (const p of probes) if (p.sentAt !== null) missed++;
samples.sort((a, b) => a - b);
const q = (f) => (samples.length ? samples[Math.min(samples.length - 1, Math.floor(f * samples.length))] : null);
console.log(JSON.stringify({ samples: samples.length, missed, p50_ms: q(0.5) && +q(0.5).toFixed(1),
    p99_ms: q(0.99) && +q(0.99).toFixed(1), max_ms: samples.length ? +samples[samples.length - 1].toFixed(1) : null }));
ws.close();
for (const p of probes) p.sock.destroy();
process.exit(0);
