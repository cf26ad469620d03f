#!/usr/bin/env node
/**
 * Baseline (c): raw uWebSockets.js, the practical ceiling on this machine: no hub, no
 * sequencing beyond a per-topic counter written into a prebuilt frame. Each tick is packed once
 * (msgpackr) into `{op:"upd",topic,seq,data:[tick]}` and `app.publish(topic, frame, true)` fans it
 * out in C++ to every subscriber. With `--batch`, the ticks of a topic are held until the next flush
 * (every `--flush-ms`, default 2 ms as the gateway) and packed into one frame
 * `{op:"upd",topic,seq,data:[ticks...]}` (the batching tickwire does).
 * A subscriber whose buffer passes uWS's `maxBackpressure` (16 MiB) is skipped by publish: a
 * silent gap, which the load generator would count.
 *
 * Protocol (binary frames, msgpack):
 *   client → {op:"sub",id,topics:[...]}       the server subscribes the socket to each topic
 *   server → {op:"ack",id,topics:[...]}
 *   server → {op:"upd",topic,seq,data:[tick]} seq per topic, +1 per tick
 * No snapshot: a client's first upd of a topic starts its sequence. GET /stats on the same port.
 *
 *   node dist/bench/src/suite/baselines/uws-raw.js --port 0 --rate 1000 --symbols BTC-USD [--batch [--flush-ms 2]]
 */
import { Packr, Unpackr } from 'msgpackr';
import uWS from 'uWebSockets.js';
import type { Tick } from '../../../../protocol/src/ticks.js';
import { announce, baselineArgs, Feed, onSignals, type BaselineStats } from './common.js';

const args = baselineArgs({ batch: { type: 'boolean' }, 'flush-ms': { type: 'string' } });
const batch = args.flags.batch === true;
const flushMs = Number(args.flags['flush-ms'] ?? 2);
if (!(flushMs > 0)) throw new Error(`--flush-ms must be > 0, got ${String(args.flags['flush-ms'])}`);
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
let framesOut = 0;
let connections = 0;

const app = uWS.App();
app.ws('/*', {
  compression: uWS.DISABLED,
  maxPayloadLength: 64 * 1024,
  maxBackpressure: 16 * 1024 * 1024,
  idleTimeout: 120,
  sendPingsAutomatically: true,
  open: () => void connections++,
  close: () => void connections--,
  message: (ws, data) => {
    let m: { op?: string; id?: number; topics?: unknown };
    try {
      m = unpackr.unpack(Buffer.from(data)) as typeof m;
    } catch {
      return;
    }
    if (m?.op !== 'sub' || !Array.isArray(m.topics)) return;
    const topics = m.topics.filter((t): t is string => typeof t === 'string');
    for (const t of topics) ws.subscribe(t);
    ws.send(packr.pack({ op: 'ack', id: m.id, topics }), true);
  },
});
app.get('/stats', (res) => {
  const stats: BaselineStats = { ticksIn: feed.ticksIn(), framesOut, connections, cutSlow: 0 };
  res.writeHeader('content-type', 'application/json').end(JSON.stringify(stats));
});

// Batched: the ticks of a topic are held until the next flush, every `--flush-ms` (2 ms, the gateway's
// default flushIntervalMs), as the gateway's flush loop does: the same frames tickwire sends, without its hub.
const pending = new Map<string, { seq: number; data: Tick[] }>();
function flush(): void {
  for (const [topic, b] of pending) {
    const n = app.numSubscribers(topic);
    if (n === 0) continue;
    app.publish(topic, packr.pack({ op: 'upd', topic, seq: b.seq, data: b.data }), true);
    framesOut += n;
  }
  pending.clear();
}
const feed = new Feed(args, (events, seqs) => {
  if (!batch) {
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const n = app.numSubscribers(e.topic);
      if (n === 0) continue;
      app.publish(e.topic, packr.pack({ op: 'upd', topic: e.topic, seq: seqs[i], data: [e.tick] }), true);
      framesOut += n;
    }
    return;
  }
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const b = pending.get(e.topic);
    if (b) b.data.push(e.tick);
    else pending.set(e.topic, { seq: seqs[i]!, data: [e.tick] });
  }
});

const flushTimer = batch ? setInterval(flush, flushMs) : undefined;

let listenSocket: uWS.us_listen_socket | false = false;
app.listen(args.host, args.port, (s) => {
  if (!s) {
    process.stderr.write(`uws-raw: cannot listen on ${args.host}:${args.port}\n`);
    process.exit(1);
  }
  listenSocket = s;
  announce(uWS.us_socket_local_port(s), { server: batch ? 'uws-raw-batch' : 'uws-raw' });
  feed.start();
});
onSignals(() => {
  feed.stop();
  clearInterval(flushTimer);
  if (listenSocket) uWS.us_listen_socket_close(listenSocket);
  (app as uWS.TemplatedApp & { close(): void }).close();
});
