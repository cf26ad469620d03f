#!/usr/bin/env node
/**
 * Micro-measure of the gateway's send path: the CPU one `Transports.flush()` (hub flush, frame
 * encoding, socket writes, slow-consumer checks) costs per delivered frame, with real uWS sockets.
 *
 *   npm run build && node dist/bench/src/send-path.js [--clients 500] [--topics 14] [--flushes 3000] [--ticks 1] [--codecs msgpack]
 *
 * The hub and transport run in this process, built exactly as the gateway builds them; a child
 * process holds the clients (`ws`, reading and counting frames, no decoding). Each round publishes
 * `--ticks` ticks to every topic and calls `flush()`; only the CPU of those calls is counted
 * (process.cpuUsage around each), and separately all of this process's CPU over the window. Rounds are paced (setImmediate, and a pause
 * while any client
 * lags) so no socket builds backpressure: the figure is the steady-state cost. Prints one JSON line.
 * Written against the transport's public surface only, so the same file measures an older build.
 */
import { fork } from 'node:child_process';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { encode } from '@msgpack/msgpack';
import { loadConfig } from '../../gateway/src/config/load.js';
import { Hub } from '../../gateway/src/hub/hub.js';
import { createLogger } from '../../gateway/src/log.js';
import { Metrics } from '../../gateway/src/metrics.js';
import { CODECS } from '../../gateway/src/codecs.js';
import type { QuoteTick, TradeTick } from '../../protocol/src/ticks.js';
import type { Subscriber } from '../../gateway/src/transport/uws.js';
import { createTransports, type Transports } from '../../gateway/src/transport/transports.js';

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '500' },
    topics: { type: 'string', default: '14' },
    flushes: { type: 'string', default: '3000' },
    ticks: { type: 'string', default: '1' },
    codecs: { type: 'string', default: 'msgpack' },
    'child-port': { type: 'string' },
  },
});

const SUBPROTOCOL: Record<string, string> = {
  msgpack: 'tickwire.v1.msgpack',
  json: 'tickwire.v1.json',
  'msgpack+deflate': 'tickwire.v1.msgpack+deflate',
};
const clients = Number(args.clients);
const topicCount = Number(args.topics);
const symbols = Array.from({ length: Math.ceil(topicCount / 2) }, (_, i) => `S${i}`);
const topics = symbols.flatMap((s) => [`trade.${s}`, `quote.${s}`]).slice(0, topicCount);
const codecs = String(args.codecs).split(',');

if (args['child-port'] !== undefined) void runClients(Number(args['child-port']));
else void main();

/** Child: the clients. Reports counts to the parent on request. */
async function runClients(port: number): Promise<void> {
  let frames = 0;
  const socks: WebSocket[] = [];
  await Promise.all(
    Array.from({ length: clients }, (_, i) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/v1`, [SUBPROTOCOL[codecs[i % codecs.length] as string] as string], {
        perMessageDeflate: false,
      });
      socks.push(ws);
      ws.on('message', () => void frames++);
      return new Promise<void>((resolve, reject) => {
        ws.once('open', () => {
          ws.send(
            codecs[i % codecs.length] === 'json' ? JSON.stringify({ op: 'sub', id: 1, topics }) : encode({ op: 'sub', id: 1, topics }),
          );
          resolve();
        });
        ws.once('error', reject);
      });
    }),
  );
  process.on('message', (m: string) => {
    if (m === 'count') process.send?.({ frames });
    if (m === 'exit') {
      for (const ws of socks) ws.terminate();
      process.exit(0);
    }
  });
  process.send?.({ ready: true });
}

async function main(): Promise<void> {
  const cfg = loadConfig({
    overrides: {
      host: '127.0.0.1',
      port: 0,
      logLevel: 'silent',
      flushIntervalMs: 2,
      maxConnectionsPerIp: 1_000_000,
      connectRatePerIp: 1_000_000,
    },
  });
  const hub = new Hub<Subscriber>({
    epoch: 'bench',
    codecs: CODECS,
    maxTicksPerFrame: cfg.maxTicksPerFrame,
    historyMinWindowMs: 30_000,
    historyBudgetBytes: 2 * 1024 ** 3,
    historyMaxAgeMs: 60_000,
  });
  let transport: Transports | undefined;
  const metrics = new Metrics({
    hub: hub.stats,
    connections: () => transport?.connectionCount ?? 0,
    sseConnections: () => 0,
    subscriptions: () => hub.subscriptions,
    topics: () => hub.topicCount,
    ready: () => true,
    uwsNative: true,
  });
  transport = createTransports(cfg, hub, metrics, createLogger('silent'), { verifier: undefined, anonymous: undefined }, () => undefined);
  const t = transport;
  const port = await t.listen();
  let k = 0;
  const trade = (): TradeTick => ({
    ts: 1_795_687_880_463 + k,
    px: 65_000 + (k % 11) * 0.25,
    qty: 0.0021 * (1 + (k % 4)),
    side: k++ % 2 ? 'b' : 's',
  });
  const quote = (): QuoteTick => ({
    ts: 1_795_687_880_463 + k,
    bid: 64_999.5 + (k % 7) * 0.5,
    bsz: 0.75,
    ask: 65_000 + (k++ % 7) * 0.5,
    asz: 1.2,
  });
  const publishRound = () => {
    for (const topic of topics)
      for (let i = 0; i < Number(args.ticks); i++) hub.publish(topic, topic.startsWith('trade.') ? trade() : quote());
  };
  publishRound();
  t.flush();

  const child = fork(new URL(import.meta.url).pathname, [...process.argv.slice(2), '--child-port', String(port)], { stdio: 'inherit' });
  child.on('exit', (code) => {
    if (code === 0) return;
    process.stderr.write(`send-path: the client process failed (exit ${code})\n`);
    process.exit(1);
  });
  const ask = (): Promise<number> =>
    new Promise((resolve) => {
      child.once('message', (m: { frames: number }) => resolve(m.frames));
      child.send('count');
    });
  await new Promise<void>((resolve) => child.once('message', () => resolve()));
  // Let every subscription land (acks and snaps), then flush once more so awaiting ones go live.
  while (hub.subscriptions < clients * (topicCount + 1)) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 200));
  publishRound();
  t.flush();
  await new Promise((r) => setTimeout(r, 200));

  const flushes = Number(args.flushes);
  const deliveries0 = hub.stats.deliveries;
  const received0 = await ask();
  let cpuMicros = 0;
  let wallMs = 0;
  const all0 = process.cpuUsage();
  for (let i = 0; i < flushes; i++) {
    publishRound();
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    t.flush();
    wallMs += performance.now() - w0;
    const c = process.cpuUsage(c0);
    cpuMicros += c.user + c.system;
    // Pace: let the clients catch up so no socket builds backpressure.
    if (i % 50 === 49)
      while ((await ask()) - received0 < (hub.stats.deliveries - deliveries0) * 0.9) await new Promise((r) => setTimeout(r, 5));
    else await new Promise((r) => setImmediate(r));
  }
  const delivered = hub.stats.deliveries - deliveries0;
  await new Promise((r) => setTimeout(r, 500));
  const all = process.cpuUsage(all0);
  const received = (await ask()) - received0;
  child.send('exit');
  await t.shutdown(500);
  const out = {
    scenario: 'send-path',
    params: { clients, topics: topicCount, ticksPerTopicPerFlush: Number(args.ticks), flushes, codecs },
    deliveredFrames: delivered,
    receivedFrames: received,
    cpuMicrosPerFrame: Math.round((cpuMicros / delivered) * 1000) / 1000,
    wallMicrosPerFrame: Math.round(((wallMs * 1000) / delivered) * 1000) / 1000,
    deliveriesPerCpuSec: Math.round(delivered / (cpuMicros / 1e6)),
    // Everything this process spent over the window (uWS writes done later by the event loop,
    // publishing the ticks, pacing), not only inside flush().
    processCpuMicrosPerFrame: Math.round(((all.user + all.system) / delivered) * 1000) / 1000,
    processDeliveriesPerCpuSec: Math.round(delivered / ((all.user + all.system) / 1e6)),
    conflatedFrames: metrics.transport.conflatedFrames,
    slowConsumerEvents: metrics.transport.slowConsumerEvents,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(0);
}
