#!/usr/bin/env node
/**
 * Wire bytes per tick on the embedded feed, measured on real sockets (TCP bytes read by the
 * client, WebSocket framing included), for: msgpack batched, permessage-deflate (per socket),
 * shared deflate (tickwire.v1.msgpack+deflate), JSON batched; and the JSON one-tick-per-frame
 * baseline computed from the same ticks (what a naive server sends).
 *
 * Usage: node dist/bench/src/wire-size.js [--rate 5000] [--seconds 5] [--flush 2]
 */
import { spawn } from 'node:child_process';
import { inflateRawSync } from 'node:zlib';
import { decode, encode } from '@msgpack/msgpack';
import WebSocket from 'ws';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? def : Number(process.argv[i + 1]);
};
const rate = arg('rate', 5000);
const seconds = arg('seconds', 5);
const flush = arg('flush', 2);
const TOPICS = ['BTC-USD', 'ETH-USD', 'SOL-USD', 'AAPL', 'MSFT', 'NVDA', 'EUR-USD'].flatMap((s) => [`trade.${s}`, `quote.${s}`]);
const ROOT = new URL('../../..', import.meta.url).pathname;

interface Mode {
  name: string;
  protocol?: string;
  perMessageDeflate?: boolean;
}
const modes: Mode[] = [
  { name: 'msgpack batched', protocol: 'tickwire.v1.msgpack' },
  { name: 'JSON batched', protocol: 'tickwire.v1.json' },
  { name: 'msgpack + permessage-deflate (per socket)', protocol: 'tickwire.v1.msgpack', perMessageDeflate: true },
  { name: 'msgpack + shared deflate', protocol: 'tickwire.v1.msgpack+deflate' },
];

async function main(): Promise<void> {
  const gw = spawn(process.execPath, [`${ROOT}dist/gateway/src/main.js`, '--host', '127.0.0.1', '--port', '0', '--feed-rate', String(rate), '--flush-interval-ms', String(flush), '--compression', 'dedicated'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      gw.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /"port":(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      gw.once('exit', () => reject(new Error('gateway exited')));
    });
    const results = await Promise.all(modes.map((m) => measure(port, m)));
    const jsonOneTick = results[0]!.jsonOneTickBytes / results[0]!.ticks;
    const rows = results.map((r, i) => ({ mode: modes[i]!.name, bytesPerTick: r.bytes / r.ticks, ticks: r.ticks }));
    rows.unshift({ mode: 'JSON one tick per frame (naive baseline, computed)', bytesPerTick: jsonOneTick, ticks: results[0]!.ticks });
    console.log(`wire bytes per tick, embedded feed at ${rate} ticks/s, flush ${flush} ms, ${seconds} s, 14 topics (TCP bytes incl. WebSocket framing)`);
    for (const r of rows) console.log(`${r.mode.padEnd(52)} ${r.bytesPerTick.toFixed(1).padStart(7)} B/tick  ${(r.bytesPerTick / jsonOneTick).toFixed(3)}x JSON one-tick  (${r.ticks} ticks)`);
    console.log(JSON.stringify({ rate, flush, seconds, rows }));
  } finally {
    gw.kill('SIGTERM');
  }
}

async function measure(port: number, mode: Mode): Promise<{ bytes: number; ticks: number; jsonOneTickBytes: number }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1`, mode.protocol ? [mode.protocol] : [], { perMessageDeflate: mode.perMessageDeflate ?? false });
  await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
  let counting = false;
  let ticks = 0;
  let jsonOneTickBytes = 0;
  let startBytes = 0;
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (mode.protocol?.endsWith('+deflate')) data = data[0] === 1 ? inflateRawSync(data.subarray(1)) : data.subarray(1);
    const m = (isBinary ? decode(data) : JSON.parse(data.toString())) as { op: string; topic: string; seq: number; data: unknown[] };
    if (!counting || m.op !== 'upd') return;
    ticks += m.data.length;
    m.data.forEach((t, i) => {
      const len = Buffer.byteLength(JSON.stringify({ op: 'upd', topic: m.topic, seq: m.seq + i, data: [t] }));
      jsonOneTickBytes += len + (len < 126 ? 2 : 4); // server→client WebSocket header
    });
  });
  const sub = { op: 'sub', id: 1, topics: TOPICS };
  ws.send(mode.protocol === 'tickwire.v1.json' ? JSON.stringify(sub) : encode(sub));
  await new Promise((r) => setTimeout(r, 1000)); // past the snapshots
  const socket = (ws as unknown as { _socket: { bytesRead: number } })._socket;
  startBytes = socket.bytesRead;
  counting = true;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  counting = false;
  const bytes = socket.bytesRead - startBytes;
  ws.terminate();
  return { bytes, ticks, jsonOneTickBytes };
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
