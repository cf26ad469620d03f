#!/usr/bin/env node
/**
 * Baseline (d): Centrifugo, when a `centrifugo` binary is on the PATH or named by
 * TICKWIRE_BENCH_CENTRIFUGO (the suite installs nothing). This process writes a config (insecure
 * client mode: no JWT, any channel; HTTP API key `bench`; loopback only), starts the binary on a
 * free loopback port, and feeds it: each pacer batch of the same market simulator is published
 * with one `POST /api/batch` of `publish` commands, each publication's data being
 * `{op:"upd",topic,seq,data:[tick]}` (channel = topic). The ready line carries `serverPid`, the
 * centrifugo process, whose CPU is what the suite measures (this feeder's is reported apart).
 *
 * Client side (load generator kind `centrifugo`): Centrifugo's JSON protocol over
 * ws://host:port/connection/websocket — `{"id":1,"connect":{}}`, then `{"id":k,"subscribe":{"channel":T}}`
 * per topic; publications arrive as `{"push":{"channel":T,"pub":{"data":{...}}}}`.
 *
 * Written for Centrifugo v5 and v6 (config keys differ; chosen from `centrifugo version`).
 * NOT exercised on the machine this suite was written on (no binary there).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { announce, baselineArgs, Feed, onSignals } from './common.js';

export function centrifugoBinary(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const named = env.TICKWIRE_BENCH_CENTRIFUGO;
  const candidates = named ? [named] : ['centrifugo'];
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
  if (!bin) throw new Error('no centrifugo binary (PATH or TICKWIRE_BENCH_CENTRIFUGO)');
  const version = execFileSync(bin, ['version'], { encoding: 'utf8', timeout: 5000 }).trim();
  const major = Number(/v?(\d+)\./.exec(version)?.[1] ?? 6);
  const port = args.port || (await freePort(args.host));
  const apiKey = 'bench';
  const config =
    major >= 6
      ? {
          client: { insecure: true, allowed_origins: ['*'] },
          http_api: { key: apiKey },
          channel: { without_namespace: { allow_subscribe_for_client: true } },
          http_server: { address: args.host, port: String(port) },
          log: { level: 'error' },
        }
      : { client_insecure: true, allowed_origins: ['*'], api_key: apiKey, allow_subscribe_for_client: true, address: args.host, port, log_level: 'error' };
  const dir = mkdtempSync(join(tmpdir(), 'tickwire-centrifugo-'));
  const cfgFile = join(dir, 'config.json');
  writeFileSync(cfgFile, JSON.stringify(config));
  const child = spawn(bin, ['--config', cfgFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-8192)));
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
      const r = await fetch(api, { method: 'POST', headers: { 'X-API-Key': apiKey, 'content-type': 'application/json' }, body: '{"commands":[]}' });
      if (r.status < 500) break;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`centrifugo did not answer on ${api}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  let inflight = 0;
  let dropped = 0;
  const feed = new Feed(args, (events, seqs) => {
    // One batch request per pacer batch; if the API is behind by more than 8 requests, ticks are
    // dropped here (counted) rather than queued without bound: the clients will see gaps.
    if (inflight > 8) {
      dropped += events.length;
      return;
    }
    const commands = events.map((e, i) => ({ publish: { channel: e.topic, data: { op: 'upd', topic: e.topic, seq: seqs[i], data: [e.tick] } } }));
    inflight++;
    fetch(api, { method: 'POST', headers: { 'X-API-Key': apiKey, 'content-type': 'application/json' }, body: JSON.stringify({ commands }) })
      .then((r) => r.arrayBuffer())
      .catch(() => void (dropped += events.length))
      .finally(() => void inflight--);
  });
  // The feeder's own /stats (Centrifugo has none in this shape), on another loopback port.
  const stats = createHttpServer((req, res) => {
    if (req.url === '/stats') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ticksIn: feed.ticksIn(), framesOut: NaN, connections: NaN, cutSlow: 0, feederDropped: dropped }));
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

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  main().catch((e: unknown) => {
    process.stderr.write(`centrifugo baseline: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
