/**
 * Hand-off micro-benchmark for workers > 1 (docs/workers.md): how one flush's sequenced ticks
 * `[topic, seq, tick][]` get from the primary thread to N worker threads.
 *
 *   node dist/bench/src/handoff.js [workers=2] [ticksPerBatch=200] [batches=3000]
 *
 * Options measured (each worker decodes every batch back to the same array):
 * - clone:  postMessage(plain array) per worker: V8 structured clone, serialized once per worker;
 * - packed: msgpackr-encode the batch once (the internal Packr of cluster/handoff.ts), then
 *           postMessage(the same Uint8Array) per worker (copied per worker: a few KB);
 * - sab:    encode once into a SharedArrayBuffer, post the SAB (no copy per worker; a new SAB per
 *           batch, the simplest form of a shared ring without its flow control).
 * Reported: the primary's busy time per tick (what limits total throughput: the primary is the
 * one serial stage) and the end-to-end ticks/s until every worker has decoded every batch.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { decodeBatch, encodeBatch, encodeShared, type SequencedTick } from '../../gateway/src/cluster/handoff.js';

type Mode = 'clone' | 'packed' | 'sab';
const MODES: Mode[] = ['clone', 'packed', 'sab'];

function makeBatch(n: number, seq0: number): SequencedTick[] {
  const out: SequencedTick[] = [];
  for (let i = 0; i < n; i++) {
    const s = seq0 + i;
    out.push(
      i % 3 === 0
        ? ['trade.BTC-USD', s, { ts: 1_700_000_000_000 + s, px: 65_000 + (s % 100) * 0.25, qty: 0.0123, side: s % 2 ? 'b' : 's' }]
        : ['quote.ETH-USD', s, { ts: 1_700_000_000_000 + s, bid: 3_100.5 + (s % 10), bsz: 1.25, ask: 3_101 + (s % 10), asz: 2.5 }],
    );
  }
  return out;
}

async function runMode(
  mode: Mode,
  workers: number,
  perBatch: number,
  batches: number,
): Promise<{ primaryNsPerTick: number; ticksPerSec: number }> {
  const ws = await Promise.all(
    Array.from({ length: workers }, () => {
      const w = new Worker(new URL(import.meta.url), { workerData: { mode } });
      return new Promise<Worker>((r) => w.once('message', () => r(w)));
    }),
  );
  const done = Promise.all(ws.map((w) => new Promise<void>((r) => w.on('message', (m) => m === 'done' && r()))));
  const pre = Array.from({ length: 16 }, (_, i) => makeBatch(perBatch, i * perBatch));
  let busy = 0n;
  const t0 = process.hrtime.bigint();
  for (let b = 0; b < batches; b++) {
    const batch = pre[b % pre.length]!;
    const s = process.hrtime.bigint();
    if (mode === 'clone') for (const w of ws) w.postMessage(batch);
    else if (mode === 'packed') {
      const bytes = encodeBatch(batch);
      for (const w of ws) w.postMessage(bytes);
    } else {
      const shared = encodeShared(batch);
      for (const w of ws) w.postMessage(shared);
    }
    busy += process.hrtime.bigint() - s;
    // Yield now and then, as the flush timer does, so the workers' queues drain as they would.
    if (b % 50 === 49) await new Promise((r) => setImmediate(r));
  }
  for (const w of ws) w.postMessage('end');
  await done;
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  await Promise.all(ws.map((w) => w.terminate()));
  const ticks = perBatch * batches;
  return { primaryNsPerTick: Number(busy) / ticks, ticksPerSec: ticks / wall };
}

if (isMainThread) {
  const [workers = 2, perBatch = 200, batches = 3000] = process.argv.slice(2).map(Number);
  for (const mode of MODES) await runMode(mode, workers, perBatch, Math.min(300, batches)); // warm-up
  const rows = [];
  for (const mode of MODES) rows.push({ mode, ...(await runMode(mode, workers, perBatch, batches)) });
  console.log(`hand-off: ${workers} workers, ${perBatch} ticks/batch, ${batches} batches`);
  for (const r of rows)
    console.log(
      `${r.mode.padEnd(7)} primary ${r.primaryNsPerTick.toFixed(0).padStart(5)} ns/tick   ` +
        `end-to-end ${(r.ticksPerSec / 1e6).toFixed(2)} M ticks/s`,
    );
} else {
  const mode = (workerData as { mode: Mode }).mode;
  let sum = 0;
  parentPort!.on('message', (m: unknown) => {
    if (m === 'end') return parentPort!.postMessage('done');
    const batch = mode === 'clone' ? (m as SequencedTick[]) : decodeBatch(m as Uint8Array);
    sum += batch.length; // touch the result so nothing is optimized away
  });
  parentPort!.postMessage('ready');
  process.on('exit', () => void sum);
}
