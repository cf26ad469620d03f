#!/usr/bin/env node
/**
 * Baseline (b): a Socket.IO server with one room per topic: on each tick
 * `io.to(topic).emit('upd', {topic, seq, data: [tick]})` (Socket.IO encodes the packet once per
 * emit and writes it to every socket of the room). Websocket transport only (no long-polling
 * upgrade dance), no permessage-deflate, no client served.
 *
 * Protocol (Socket.IO events):
 *   client → emit('sub', {topics: [...]}, ack)   the server joins the rooms and calls ack({topics})
 *   server → 'upd' {topic, seq, data: [tick]}    one per tick; seq per topic, +1 per tick
 * No snapshot: a client's first upd of a topic starts its sequence. GET /stats on the same port.
 *
 *   node dist/bench/src/suite/baselines/socketio.js --port 0 --rate 1000 --symbols BTC-USD
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { announce, baselineArgs, Feed, onSignals, type BaselineStats } from './common.js';

const args = baselineArgs();
let framesOut = 0;

const server = createServer((req, res) => {
  // Socket.IO answers its own path (/socket.io/) before this handler runs.
  if (req.url === '/stats') {
    const stats: BaselineStats = { ticksIn: feed.ticksIn(), framesOut, connections: io.engine.clientsCount, cutSlow: 0 };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
  } else if (!req.url?.startsWith('/socket.io')) {
    res.writeHead(404).end();
  }
});
const io = new Server(server, { transports: ['websocket'], perMessageDeflate: false, serveClient: false, httpCompression: false });
io.on('connection', (socket) => {
  socket.on('sub', (m: { topics?: unknown }, ack?: (r: unknown) => void) => {
    const topics = Array.isArray(m?.topics) ? m.topics.filter((t): t is string => typeof t === 'string') : [];
    void socket.join(topics);
    if (typeof ack === 'function') ack({ topics });
  });
});

const feed = new Feed(args, (events, seqs) => {
  const rooms = io.of('/').adapter.rooms;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const room = rooms.get(e.topic);
    if (room === undefined || room.size === 0) continue;
    io.to(e.topic).emit('upd', { topic: e.topic, seq: seqs[i], data: [e.tick] });
    framesOut += room.size;
  }
});

server.listen(args.port, args.host, () => {
  const a = server.address();
  announce(typeof a === 'object' && a ? a.port : 0, { server: 'socketio' });
  feed.start();
});
onSignals(() => {
  feed.stop();
  io.disconnectSockets(true);
  server.close();
});
