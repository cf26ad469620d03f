#!/usr/bin/env node
/**
 * Baseline (d): Centrifugo. The binary is the one `npm run peers:fetch` builds into
 * .cache/peers/bin/centrifugo, else `centrifugo` on the PATH; TICKWIRE_BENCH_CENTRIFUGO names
 * another (the suite resolves it and passes it on, since a baseline inherits only PATH and HOME).
 * This process writes a config (anonymous clients may connect and subscribe to any channel; HTTP
 * API key `bench`; loopback only), starts the binary on a free loopback port, and feeds it: the
 * pacer batches of the same market simulator are published with `POST /api/batch` of `publish`
 * commands, each publication's data being `{op:"upd",topic,seq,data:[tick]}` (channel = topic).
 * One request is in flight at a time, and what queued meanwhile goes in the next: concurrent
 * requests travel over separate connections and can be reordered, which the clients saw as gaps.
 * The ready line carries `serverPid`, the centrifugo process, whose CPU (all threads) is what the
 * suite measures (this feeder's is reported apart).
 *
 * Client side (load generator kinds `centrifugo` and `centrifugo-protobuf`): Centrifugo's JSON or
 * protobuf protocol over ws://host:port/connection/websocket[?format=protobuf] — connect (id 1),
 * then a subscribe per topic; publications arrive as pushes whose data is the object above.
 *
 * Config keys of Centrifugo v6 (the pinned peer) and v5, chosen from `centrifugo version`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { announce, baselineArgs, Feed, onSignals } from './common.js';

/** Where `npm run peers:fetch` (scripts/peers.sh) builds it, from the repository root. */
const REPO_ROOT = import.meta.url.endsWith('.js') ? '../../../../../' : '../../../../';
export const CACHED_CENTRIFUGO = fileURLToPath(new URL(`${REPO_ROOT}.cache/peers/bin/centrifugo`, import.meta.url));

/** TICKWIRE_BENCH_CENTRIFUGO if set; else the cached build, else `centrifugo` on the PATH; undefined if none runs. */
export function centrifugoBinary(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const named = env.TICKWIRE_BENCH_CENTRIFUGO;
  const candidates = named ? [named] : [CACHED_CENTRIFUGO, 'centrifugo'];
  for (const c of candidates) {
    try {
      execFileSync(c, ['version'], { stdio: 'ignore', timeout: 5000, env });
      return c;
    } catch {
      // not there
    }
  }
  return undefined;
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function main(): Promise<void> {
  const args = baselineArgs();
  const bin = centrifugoBinary();
  if (!bin) throw new Error('no centrifugo binary (npm run peers:fetch, the PATH, or TICKWIRE_BENCH_CENTRIFUGO)');
  const version = execFileSync(bin, ['version'], { encoding: 'utf8', timeout: 5000 }).trim();
  // A `go install` build says v0.0.0 (no release stamp): that is the pinned v6 (scripts/peers.sh).
  const stated = Number(/v(\d+)\.\d+/.exec(version)?.[1] ?? 0);
  const major = stated >= 1 ? stated : 6;
  const port = args.port || (await freePort(args.host));
  const apiKey = 'bench';
  const config =
    major >= 6
      ? {
          client: { allowed_origins: ['*'], allow_anonymous_connect_without_token: true },
          http_api: { key: apiKey },
          // v6 answers "permission denied" to anonymous subscribes unless both are set.
          channel: { without_namespace: { allow_subscribe_for_client: true, allow_subscribe_for_anonymous: true } },
          http_server: { address: args.host, port },
          log: { level: 'error' },
          usage_stats: { disabled: true },
        }
      : {
          client_insecure: true,
          allowed_origins: ['*'],
          api_key: apiKey,
          allow_subscribe_for_client: true,
          address: args.host,
          port,
          log_level: 'error',
        };
  const dir = mkdtempSync(join(tmpdir(), 'tickwire-centrifugo-'));
  const cfgFile = join(dir, 'config.json');
  writeFileSync(cfgFile, JSON.stringify(config));
  const child = spawn(bin, ['--config', cfgFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-8192)));
  const cleanup = () => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  child.on('exit', (code) => {
    process.stderr.write(`centrifugo exited (${code}): ${stderr}\n`);
    process.exit(1);
  });

  const api = `http://${args.host}:${port}/api/batch`;
  // Wait until the HTTP API answers.
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const r = await fetch(api, {
        method: 'POST',
        headers: { 'X-API-Key': apiKey, 'content-type': 'application/json' },
        body: '{"commands":[]}',
      });
      if (r.status < 500) break;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`centrifugo did not answer on ${api}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  const publisher = new SerialPublisher(api, apiKey);
  const feed = new Feed(args, (events, seqs) => {
    const data = (i: number) => ({ op: 'upd', topic: events[i]!.topic, seq: seqs[i], data: [events[i]!.tick] });
    publisher.add(events.map((e, i) => ({ publish: { channel: e.topic, data: data(i) } })));
  });
  // The feeder's own /stats (Centrifugo has none in this shape), on another loopback port.
  const stats = createHttpServer((req, res) => {
    const body = { ticksIn: feed.ticksIn(), framesOut: NaN, connections: NaN, cutSlow: 0 };
    Object.assign(body, { feederDropped: publisher.dropped, feederRequests: publisher.requests });
    if (req.url === '/stats') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => stats.listen(0, args.host, r));
  const sa = stats.address();
  feed.start();
  announce(port, { server: 'centrifugo', serverPid: child.pid, statsPort: typeof sa === 'object' && sa ? sa.port : 0, version });
  onSignals(() => {
    feed.stop();
    cleanup();
  });
}

/**
 * Publishes through the HTTP API with one request in flight; commands that arrive meanwhile wait
 * and go together in the next request, so publications reach Centrifugo in feed order. If the
 * API falls behind by more than MAX_QUEUED commands, new ones are dropped (counted in /stats):
 * the clients then see gaps rather than the feeder growing without bound.
 */
export class SerialPublisher {
  static readonly MAX_QUEUED = 100_000;
  private queue: unknown[] = [];
  private busy = false;
  dropped = 0;
  requests = 0;

  constructor(
    private readonly api: string,
    private readonly apiKey: string,
    private readonly post: (url: string, init: RequestInit) => Promise<{ arrayBuffer(): Promise<ArrayBuffer>; ok: boolean }> = fetch,
  ) {}

  add(commands: unknown[]): void {
    if (this.queue.length + commands.length > SerialPublisher.MAX_QUEUED) {
      this.dropped += commands.length;
      return;
    }
    this.queue.push(...commands);
    this.pump();
  }

  private pump(): void {
    if (this.busy || this.queue.length === 0) return;
    const commands = this.queue;
    this.queue = [];
    this.busy = true;
    this.requests++;
    const headers = { 'X-API-Key': this.apiKey, 'content-type': 'application/json' };
    this.post(this.api, { method: 'POST', headers, body: JSON.stringify({ commands }) })
      .then(async (r) => {
        await r.arrayBuffer();
        if (!r.ok) this.dropped += commands.length;
      })
      .catch(() => void (this.dropped += commands.length))
      .finally(() => {
        this.busy = false;
        this.pump();
      });
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  main().catch((e: unknown) => {
    process.stderr.write(`centrifugo baseline: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
