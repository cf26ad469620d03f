#!/usr/bin/env node
/**
 * Idle WebSocket connections for the memory and max-connections scenarios, as cheap as a
 * client can be: raw TCP sockets (node:net) that send the upgrade request, check the `101`, then
 * only read and discard (the server's heartbeats) and send a masked ping every 20–40 s so no idle
 * timeout fires. No WebSocket library; no subscription unless `--sub TOPIC` (one msgpack `sub` frame
 * right after the upgrade, for the heap profile of connections holding one subscription each).
 *
 *   node dist/bench/src/suite/idle-clients.js --port P --count N [--path /v1] [--protocol P]
 *        [--addresses 127.0.0.2,127.0.0.3] [--concurrency 256] [--per-address 25000] [--sub TOPIC]
 *
 * Source addresses (`--addresses`, round-robin, at most `--per-address` connections each) spread
 * the connections over several 127.0.0.x so the ~28 000 ephemeral ports of one (source, dest)
 * pair do not run out. Prints `{"port":0,"ready":true}` at start, then a JSON status line
 * `{"open","failed","pending","errors"}` every 500 ms and once when all attempts settled
 * (`"done":true`). Holds the connections until stdin closes or SIGTERM; then exits.
 */
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { encode } from '@msgpack/msgpack';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    count: { type: 'string' },
    path: { type: 'string', default: '/v1' },
    protocol: { type: 'string', default: '' },
    addresses: { type: 'string', default: '' },
    concurrency: { type: 'string', default: '256' },
    'per-address': { type: 'string', default: '25000' },
    sub: { type: 'string', default: '' },
  },
});
const port = Number(values.port);
const count = Number(values.count);
const concurrency = Number(values.concurrency);
const perAddress = Number(values['per-address']);
const addresses = (values.addresses ?? '').split(',').filter(Boolean);
if (!(port > 0) || !(count >= 0)) throw new Error('--port and --count are required');

const sockets: Socket[] = [];
let open = 0;
let failed = 0;
let started = 0;
let inflight = 0;
const errors: Record<string, number> = {};
const usedPerAddress = new Map<string, number>();
const err = (m: string) => {
  const k = m.slice(0, 120);
  errors[k] = (errors[k] ?? 0) + 1;
};

const PING = Buffer.from([0x89, 0x80, 0, 0, 0, 0]); // FIN + ping, masked, empty payload (mask 0)
/** FIN + binary, masked with mask 0 (so the payload is sent as is): one msgpack `sub` of `--sub`. */
const SUB = values.sub ? subFrame(values.sub) : undefined;

function subFrame(topic: string): Buffer {
  const body = Buffer.from(encode({ op: 'sub', id: 1, topics: [topic] }));
  if (body.length > 125) throw new Error('--sub topic too long for a one-byte frame length');
  return Buffer.concat([Buffer.from([0x82, 0x80 | body.length, 0, 0, 0, 0]), body]);
}

function pickAddress(): string | undefined {
  for (const a of addresses) {
    const n = usedPerAddress.get(a) ?? 0;
    if (n < perAddress) {
      usedPerAddress.set(a, n + 1);
      return a;
    }
  }
  return addresses.length ? undefined : '';
}

function one(): void {
  const laddr = pickAddress();
  if (laddr === undefined) {
    noAddr++;
    failed++;
    err('no source address left (per-address cap)');
    return;
  }
  inflight++;
  started++;
  const s = connect({ host: values.host, port, ...(laddr ? { localAddress: laddr } : {}) });
  s.setNoDelay(true);
  let upgraded = false;
  let head = '';
  const settle = (ok: boolean, why?: string) => {
    if (upgraded) return;
    inflight--;
    if (ok) {
      upgraded = true;
      open++;
      sockets.push(s);
      // Keep the server's idle timeout from firing: a ping now and then.
      const t = setInterval(() => s.writable && s.write(PING), 20_000 + Math.random() * 20_000);
      t.unref();
      s.once('close', () => {
        clearInterval(t);
        open--;
      });
    } else {
      failed++;
      if (why) err(why);
      s.destroy();
    }
    next();
  };
  s.setTimeout(15_000, () => {
    if (!upgraded) settle(false, 'handshake timeout');
  });
  s.on('connect', () => {
    const key = randomBytes(16).toString('base64');
    s.write(
      `GET ${values.path} HTTP/1.1\r\nHost: ${values.host}:${port}\r\nUpgrade: websocket\r\nConnection: ` +
        `Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
        (values.protocol ? `Sec-WebSocket-Protocol: ${values.protocol}\r\n` : '') +
        '\r\n',
    );
  });
  s.on('data', (d: Buffer) => {
    if (upgraded) return; // heartbeats and pings: read and dropped
    head += d.toString('latin1');
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    if (head.startsWith('HTTP/1.1 101')) {
      s.setTimeout(0);
      if (SUB) s.write(SUB);
      settle(true);
    } else {
      settle(false, `upgrade refused: ${head.split('\r\n', 1)[0]}`);
    }
  });
  s.on('error', (e: Error) => {
    if (!upgraded) settle(false, `connect: ${(e as NodeJS.ErrnoException).code ?? e.message}`);
  });
}

function next(): void {
  while (inflight < concurrency && started + failedBeforeStart() < count) one();
  if (inflight === 0 && started + failedBeforeStart() >= count && !doneReported) {
    doneReported = true;
    report(true);
  }
}

let noAddr = 0;
function failedBeforeStart(): number {
  return noAddr;
}
let doneReported = false;

function report(done = false): void {
  // Once every attempt settled, every later line says so too.
  process.stdout.write(`${JSON.stringify({ open, failed, pending: inflight, errors, ...(done || doneReported ? { done: true } : {}) })}\n`);
}

process.stdout.write(`${JSON.stringify({ port: 0, ready: true })}\n`);
const timer = setInterval(() => report(), 500);
const shutdown = () => {
  clearInterval(timer);
  for (const s of sockets) s.destroy();
  process.exit(0);
};
process.stdin.on('end', shutdown);
process.stdin.on('close', shutdown);
process.stdin.resume();
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
next();
