#!/usr/bin/env node
/**
 * Baseline (a): a plain `ws` server sending one JSON text frame per tick per client — the
 * idiomatic naive implementation. Each tick is `JSON.stringify`d once and `ws.send` to every
 * subscriber of its topic (`ws` frames the string again for each socket). No batching, no
 * compression (`perMessageDeflate: false`), no per-client backpressure policy (only a safety cap:
 * a socket with more than `--max-buffered-mb` (64) unsent is terminated and counted in
 * `/stats.cutSlow`, so a runaway benchmark cannot eat the machine's memory).
 *
 * Protocol (text frames, JSON):
 *   client → {"op":"sub","id":N,"topics":[...]}
 *   server → {"op":"ack","id":N,"topics":[...]}
 *   server → {"op":"upd","topic":T,"seq":S,"data":[tick]}   one per tick; seq per topic, +1 per tick
 * No snapshot: a client's first upd of a topic starts its sequence. GET /stats on the same port.
 *
 *   node dist/bench/src/suite/baselines/ws-json.js --port 0 --rate 1000 --symbols BTC-USD
 */
import { createServer } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { announce, baselineArgs, Feed, onSignals, type BaselineStats } from './common.js';

const args = baselineArgs({ 'max-buffered-mb': { type: 'string' } });
const maxBuffered = Number(args.flags['max-buffered-mb'] ?? 64) * 1024 * 1024;
const subs = new Map<string, Set<WebSocket>>();
let framesOut = 0;
let cutSlow = 0;

const feed = new Feed(args, (events, seqs) => {
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const set = subs.get(e.topic);
    if (set === undefined || set.size === 0) continue;
    const msg = JSON.stringify({ op: 'upd', topic: e.topic, seq: seqs[i], data: [e.tick] });
    for (const ws of set) {
      if (ws.bufferedAmount > maxBuffered) {
        cutSlow++;
        ws.terminate();
        continue;
      }
      ws.send(msg);
      framesOut++;
    }
  }
});

const server = createServer((req, res) => {
  if (req.url === '/stats') {
    const stats: BaselineStats = { ticksIn: feed.ticksIn(), framesOut, connections: wss.clients.size, cutSlow };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
  } else {
    res.writeHead(404).end();
  }
});
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws) => {
  const mine = new Set<string>();
  ws.on('message', (data) => {
    let m: { op?: string; id?: number; topics?: unknown };
    try {
      m = JSON.parse((data as Buffer).toString()) as typeof m;
    } catch {
      return;
    }
    if (m.op !== 'sub' || !Array.isArray(m.topics)) return;
    const topics = m.topics.filter((t): t is string => typeof t === 'string');
    for (const t of topics) {
      let set = subs.get(t);
      if (!set) subs.set(t, (set = new Set()));
      set.add(ws);
      mine.add(t);
    }
    ws.send(JSON.stringify({ op: 'ack', id: m.id, topics }));
  });
  ws.on('close', () => {
    for (const t of mine) subs.get(t)?.delete(ws);
  });
  ws.on('error', () => undefined);
});

server.listen(args.port, args.host, () => {
  const a = server.address();
  announce(typeof a === 'object' && a ? a.port : 0, { server: 'ws-json' });
  feed.start();
});
onSignals(() => {
  feed.stop();
  for (const ws of wss.clients) ws.terminate();
  server.close();
});
