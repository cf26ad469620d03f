#!/usr/bin/env node
/**
 * Made-up topics (issue 13 point 6): what invented topics cost a gateway, and whether they stall
 * everyone else. Spawns a gateway (default settings, one worker) and a bystander process that
 * reads the 14 feed topics; then, from one IP:
 *   1. hoard: `--hoarders` connections each subscribe to `--topics` symbols that never get data;
 *   2. churn: `--churners` connections alternate sub/unsub of 256 invented topics at `--rate`
 *      messages/s each (under maxMessagesPerSec = 50) for `--seconds`, while /healthz is polled.
 * Reports the gateway's RSS (start, after hoarding, after the hoarders left, after churn), the
 * bystander's largest gap between data frames, and the slowest /healthz.
 *
 * Usage: node dist/bench/src/made-up-topics.js [--main dist/gateway/src/main.js] [--hoarders 80]
 *   [--topics 1000] [--churners 16] [--rate 40] [--seconds 12]
 * (--main selects the gateway build, e.g. another checkout's, for a before/after comparison.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import WebSocket from 'ws';
import { DEFAULT_SYMBOLS } from '../../feeds/src/symbols.js';

const ROOT = new URL('../../..', import.meta.url).pathname;
const argv = process.argv;
const opt = (name: string, def: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i === -1 ? def : (argv[i + 1] as string);
};
const MAIN = opt('main', `${ROOT}dist/gateway/src/main.js`);
const HOARDERS = Number(opt('hoarders', '80'));
const TOPICS = Number(opt('topics', '1000'));
const CHURNERS = Number(opt('churners', '16'));
const RATE = Number(opt('rate', '40'));
const SECONDS = Number(opt('seconds', '12'));
const FEED = DEFAULT_SYMBOLS.flatMap((s) => [`trade.${s.symbol}`, `quote.${s.symbol}`]);
const MB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(120_000) })).text();
  return Number(new RegExp(`^${name} (\\d+(?:\\.\\d+)?)`, 'm').exec(text)?.[1] ?? NaN);
}

const rssMB = async (port: number) => Math.round((await metric(port, 'tickwire_process_resident_memory_bytes')) / MB);

function connect(port: number, onMessage?: (m: { op: string; id?: number; code?: string }) => void): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1`, ['tickwire.v1.json'], { perMessageDeflate: false });
  if (onMessage) ws.on('message', (d: Buffer) => onMessage(JSON.parse(d.toString('utf8')) as { op: string; id?: number; code?: string }));
  ws.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_q, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
  });
}

/** The bystander process (gateway/test/support/bystander.mjs): its stdout, line by line. */
function bystander(port: number): { child: ChildProcess; line: () => Promise<string> } {
  const child = spawn(process.execPath, [`${ROOT}gateway/test/support/bystander.mjs`, String(port), ...FEED], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  child.stdout.on('data', (d: Buffer) => {
    lines.push(...d.toString().split('\n').filter(Boolean));
    waiters.splice(0).forEach((w) => w());
  });
  const line = async (): Promise<string> => {
    while (lines.length === 0) await new Promise<void>((r) => waiters.push(r));
    return lines.shift() as string;
  };
  return { child, line };
}

async function main(): Promise<void> {
  const gw = spawn(process.execPath, [MAIN, '--host', '127.0.0.1', '--port', '0', '--workers', '1'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let by: ChildProcess | undefined;
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      gw.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /"port":(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      gw.on('exit', (c) => reject(new Error(`gateway exited with ${c}`)));
    });
    const b = bystander(port);
    by = b.child;
    await b.line(); // {"ready":true}
    const rss: Record<string, number> = { start: await rssMB(port) };

    // 1. Hoard: every connection names TOPICS symbols that never get data.
    let refused = 0;
    let pongs = 0;
    const t0 = Date.now();
    const hoarders = await Promise.all(
      Array.from({ length: HOARDERS }, () =>
        connect(port, (m) => {
          if (m.code === 'too_many_waiting') refused++;
          if (m.op === 'pong') pongs++;
        }),
      ),
    );
    hoarders.forEach((ws, c) => {
      for (let r = 0; r * 250 < TOPICS; r++) {
        const topics = Array.from({ length: Math.min(250, TOPICS - r * 250) }, (_, i) => `trade.FAKE${c}X${r * 250 + i}`);
        ws.send(JSON.stringify({ op: 'sub', id: r + 1, topics }));
      }
      ws.send(JSON.stringify({ op: 'ping', id: 999 }));
    });
    while (pongs < HOARDERS) await sleep(50);
    const hoardMs = Date.now() - t0;
    rss.hoarded = await rssMB(port);
    for (const ws of hoarders) ws.terminate();
    while ((await metric(port, 'tickwire_subscriptions')) > FEED.length + 1) await sleep(100);
    rss.hoardersGone = await rssMB(port);

    // 2. Churn: sub/unsub of 256 invented topics per message, RATE messages/s per connection.
    const churners = await Promise.all(Array.from({ length: CHURNERS }, () => connect(port)));
    const frames = churners.map((_, c) =>
      Array.from({ length: 16 }, (_, k) =>
        JSON.stringify({
          op: k % 2 ? 'unsub' : 'sub',
          id: k,
          topics: Array.from({ length: 256 }, (_, i) => `quote.CHURN${c}X${k >> 1}Y${i}`),
        }),
      ),
    );
    let n = 0;
    const timers = churners.map((ws, c) =>
      setInterval(() => ws.readyState === WebSocket.OPEN && ws.send(frames[c]![n++ % 16]!), 1000 / RATE),
    );
    let healthMaxMs = 0;
    let healthFailures = 0;
    const end = Date.now() + SECONDS * 1000;
    while (Date.now() < end) {
      const h0 = Date.now();
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5_000) });
        await res.text();
        if (res.status !== 200) healthFailures++;
      } catch {
        healthFailures++;
      }
      healthMaxMs = Math.max(healthMaxMs, Date.now() - h0);
      await sleep(200);
    }
    timers.forEach(clearInterval);
    b.child.stdin!.write('stop\n');
    const report = JSON.parse(await b.line()) as { maxGapMs: number; frames: number };
    for (const ws of churners) ws.terminate();
    rss.afterChurn = await rssMB(port);
    const result = {
      gateway: MAIN,
      params: { hoarders: HOARDERS, topics: TOPICS, churners: CHURNERS, rate: RATE, seconds: SECONDS },
      rssMB: rss,
      hoardMs,
      refusedRequests: refused,
      healthMaxMs,
      healthFailures,
      bystander: { maxGapMs: report.maxGapMs, frames: report.frames },
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    by?.kill('SIGKILL');
    gw.kill('SIGKILL');
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
