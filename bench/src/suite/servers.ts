/**
 * The servers a scenario can run, all fed by the same market simulator (same seed, symbols,
 * rate and burstiness), each in its own child process, and the client kind that speaks to it.
 */
import type { ClientKind } from '../loadgen/index.js';
import { centrifugoBinary } from './baselines/centrifugo.js';
import type { CpuBasis } from './measure.js';
import { startBaseline, startGateway, type ServerProcess } from './proc.js';

export type ServerId = 'tickwire' | 'uws-raw' | 'uws-raw-batch' | 'ws-json' | 'socketio' | 'centrifugo' | 'centrifugo-protobuf';

export interface FeedSpec {
  /** Total ticks/s of the feed over all its symbols. */
  rate: number;
  symbols: string[];
  seed?: number;
  burstiness?: number;
}

export interface ServerDef {
  id: ServerId;
  label: string;
  /** What the load generator's clients speak and decode against it. */
  kind: ClientKind;
  /** One line for the report: what the server does per tick and what its clients decode. */
  describe: string;
  /**
   * What its capacity divides by: the main (event-loop) thread's CPU for the one-threaded Node
   * servers, the whole process (all threads) for a Go server, whose main thread is nearly idle.
   */
  cpuBasis: CpuBasis;
}

export const SERVERS: Record<ServerId, ServerDef> = {
  tickwire: {
    id: 'tickwire',
    label: 'tickwire',
    kind: 'tickwire',
    cpuBasis: 'main thread',
    describe:
      'the gateway (dist/gateway/src/main.js), embedded feed, default settings (flush 2 ms, no compression): ticks of a topic ' +
      'within a flush share one msgpack `upd` frame, encoded once and sent to each subscriber (`ws.send`, corked). Clients ' +
      '(`ws`) decode every frame fully with msgpackr and check seq.',
  },
  'uws-raw': {
    id: 'uws-raw',
    label: 'raw uWS publish',
    kind: 'uws-raw',
    cpuBasis: 'main thread',
    describe:
      'baselines/uws-raw.ts: one msgpack frame `{op,topic,seq,data:[tick]}` packed per tick, `app.publish(topic, frame, true)` ' +
      '(C++ fan-out), no hub. Clients decode every frame fully with msgpackr and check seq.',
  },
  'uws-raw-batch': {
    id: 'uws-raw-batch',
    label: 'raw uWS publish, batched',
    kind: 'uws-raw',
    cpuBasis: 'main thread',
    describe:
      'baselines/uws-raw.ts --batch: like raw uWS publish, but the ticks of a topic are held until the next flush (every 2 ms, ' +
      "as the gateway's flush loop) and sent as one frame: the frames tickwire sends, without its hub. Clients decode fully.",
  },
  'ws-json': {
    id: 'ws-json',
    label: 'ws + JSON',
    kind: 'ws-json',
    cpuBasis: 'main thread',
    describe:
      'baselines/ws-json.ts: plain `ws` server, each tick `JSON.stringify`d once into `{op,topic,seq,data:[tick]}` and `ws.send` ' +
      'to every subscriber (one text frame per tick per client). Clients `JSON.parse` every frame and check seq.',
  },
  socketio: {
    id: 'socketio',
    label: 'Socket.IO',
    kind: 'socketio',
    cpuBasis: 'main thread',
    describe:
      'baselines/socketio.ts: Socket.IO 4 server, websocket transport, a room per topic, `io.to(topic).emit("upd", ' +
      '{topic,seq,data:[tick]})` per tick. Clients are socket.io-client (one Manager each, websocket only), which parses every ' +
      'packet; seq checked.',
  },
  centrifugo: {
    id: 'centrifugo',
    label: 'Centrifugo (JSON)',
    kind: 'centrifugo',
    cpuBasis: 'process',
    describe:
      'baselines/centrifugo.ts: the centrifugo binary (anonymous clients, loopback), fed by a separate process that publishes ' +
      'the feed batches through HTTP `/api/batch`, one request in flight (what queued meanwhile goes in the next), so ' +
      'publications stay in order. Its CPU is the whole centrifugo process, all threads (/proc/<pid>/stat utime + stime; a Go ' +
      "server works on many threads, its main thread is nearly idle), and includes parsing the API's JSON, which a hub fed " +
      'in-process does not pay. Clients speak its JSON protocol and parse every publication.',
  },
  'centrifugo-protobuf': {
    id: 'centrifugo-protobuf',
    label: 'Centrifugo (protobuf)',
    kind: 'centrifugo-protobuf',
    cpuBasis: 'process',
    describe:
      'the same Centrifugo server and feeder; clients speak its protobuf protocol (`?format=protobuf`, read by a small hand ' +
      "decoder: loadgen/centrifugo-protobuf.ts) and parse each publication's JSON data. CPU: the whole centrifugo process, as above.",
  },
};

export function centrifugoAvailable(): boolean {
  return centrifugoBinary() !== undefined;
}

/**
 * The gateway's embedded feed as the baselines' (trades and quotes): no order-book records
 * (`--feed-books false`), so that tickwire's CPU figures hold the tick work the baselines also do,
 * not the book engine's. Books have their own scenario.
 */
function feedArgsGateway(f: FeedSpec): string[] {
  return [
    '--feed-books',
    'false',
    '--feed-rate',
    String(f.rate),
    '--feed-symbols',
    f.symbols.join(','),
    '--feed-seed',
    String(f.seed ?? 1),
    '--feed-burstiness',
    String(f.burstiness ?? 0.5),
  ];
}

function feedArgsBaseline(f: FeedSpec): string[] {
  return [
    '--rate',
    String(f.rate),
    '--symbols',
    f.symbols.join(','),
    '--seed',
    String(f.seed ?? 1),
    '--burstiness',
    String(f.burstiness ?? 0.5),
  ];
}

/**
 * The gateway's per-IP connection limits (2 000 connections, 200 connects/s per IP by default)
 * would refuse a load generator that opens every client from 127.0.0.1: the suite lifts them
 * (they are admission limits, not performance settings).
 */
export const GATEWAY_BENCH_LIMITS = [
  '--max-connections',
  '10000000',
  '--max-connections-per-ip',
  '10000000',
  '--connect-rate-per-ip',
  '1000000',
];

/** Starts a server; `extra` are more gateway flags (tickwire only). */
export async function startServer(id: ServerId, feed: FeedSpec, opts: { extra?: string[]; fdLimit?: number } = {}): Promise<ServerProcess> {
  const fd = opts.fdLimit !== undefined ? { fdLimit: opts.fdLimit } : {};
  switch (id) {
    case 'tickwire':
      // One worker unless `extra` says otherwise (a later flag wins): the single-thread figures
      // the baselines are compared with; scenarios/workers.ts measures N workers.
      return startGateway([...feedArgsGateway(feed), '--log-level', 'info', ...GATEWAY_BENCH_LIMITS, ...(opts.extra ?? [])], fd);
    case 'uws-raw':
      return startBaseline('uws-raw', feedArgsBaseline(feed), fd);
    case 'uws-raw-batch':
      return startBaseline('uws-raw', [...feedArgsBaseline(feed), '--batch'], fd);
    case 'ws-json':
      return startBaseline('ws-json', feedArgsBaseline(feed), fd);
    case 'socketio':
      return startBaseline('socketio', feedArgsBaseline(feed), fd);
    case 'centrifugo':
    case 'centrifugo-protobuf': {
      // Resolved here and passed on: a baseline inherits only PATH and HOME.
      const bin = centrifugoBinary();
      if (!bin) throw new Error('no centrifugo binary (npm run peers:fetch, the PATH, or TICKWIRE_BENCH_CENTRIFUGO)');
      const env = { TICKWIRE_BENCH_CENTRIFUGO: bin };
      return startBaseline('centrifugo', feedArgsBaseline(feed), { ...fd, pidField: 'serverPid', startTimeoutMs: 30_000, env });
    }
  }
}

/** The URL the load generator connects to. */
export function urlOf(id: ServerId, port: number): string {
  if (id === 'socketio') return `http://127.0.0.1:${port}`;
  if (id === 'centrifugo') return `ws://127.0.0.1:${port}/connection/websocket`;
  if (id === 'centrifugo-protobuf') return `ws://127.0.0.1:${port}/connection/websocket?format=protobuf`;
  return `ws://127.0.0.1:${port}/v1`;
}

/** Symbols of the first `n` topics in the order quote.BTC-USD, trade.BTC-USD, quote.ETH-USD, ... */
export function topicsAndSymbols(n: number, all: string[]): { topics: string[]; symbols: string[] } {
  const ordered = all.flatMap((s) => [`quote.${s}`, `trade.${s}`]);
  const k = Math.max(1, Math.min(n, ordered.length));
  const topics = ordered.slice(0, k);
  const symbols = all.slice(0, Math.ceil(k / 2));
  return { topics, symbols };
}
