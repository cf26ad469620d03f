/**
 * Micro-benchmarks of the gateway's hot paths (benchmark.js), informational (no P-goal):
 *
 * - encode one `upd` of 1, 16 and 256 quote ticks: tickwire's msgpack writer
 *   (`msgpackCodec.encodeUpd`), msgpackr `pack`, `JSON.stringify`, @msgpack/msgpack `Encoder.encode`
 *   of the same message object;
 * - the shared-deflate transform (`deflateFrame`) of those msgpack frames;
 * - a hub flush: publish K ticks over M topics with S subscribers (each on every topic), then
 *   `flush(deliver, now)` with a no-op deliver; ns per delivered frame.
 *
 * The compiled gateway (dist/) is measured when this runs from dist; under vitest the sources.
 */
import { Encoder as MsgpackEncoder, decode as msgpackDecode } from '@msgpack/msgpack';
import Benchmark from 'benchmark';
import { Packr, Unpackr } from 'msgpackr';
import { CODECS, deflateFrame, inflateFrame, msgpackCodec } from '../../../../gateway/src/codecs.js';
import { Hub } from '../../../../gateway/src/hub/hub.js';
import type { QuoteTick, TradeTick } from '../../../../protocol/src/ticks.js';
import type { ChartSpec, Scenario, ScenarioContext, ScenarioResult } from '../types.js';
import { machineLoad } from '../machine.js';
import { round } from '../stats.js';

export interface MicroRow {
  group: 'encode' | 'deflate' | 'hub';
  name: string;
  impl: string;
  /** Ticks in the frame (encode, deflate) or published per op (hub). */
  ticks: number;
  opsPerSec: number;
  nsPerOp: number;
  /** Relative margin of error (±%, 95 %). */
  rmePct: number;
  samples: number;
  /** encode/deflate: output bytes of one op. */
  bytes?: number;
  nsPerTick?: number;
  /** hub: frames handed to subscribers per op, and ns per delivered frame. */
  deliveriesPerOp?: number;
  nsPerDelivery?: number;
}

export interface HubConfig {
  /** Ticks published per op. */
  ticks: number;
  topics: number;
  subscribers: number;
  /** Codec of the subscribers: 0 msgpack, 2 shared deflate. */
  codec: 0 | 2;
}

export interface MicroOptions {
  /** benchmark.js maxTime per benchmark, seconds. */
  maxTime: number;
  minSamples?: number;
  sizes?: number[];
  hub?: HubConfig[];
  onResult?: (r: MicroRow) => void;
}

export const DEFAULT_SIZES = [1, 16, 256];
export const DEFAULT_HUB: HubConfig[] = [
  { ticks: 14, topics: 14, subscribers: 10, codec: 0 },
  { ticks: 140, topics: 14, subscribers: 1000, codec: 0 },
  { ticks: 1000, topics: 100, subscribers: 100, codec: 0 },
  { ticks: 140, topics: 14, subscribers: 1000, codec: 2 },
];

const BASE_TS = 1_795_687_880_463;

export function quoteTicks(n: number): QuoteTick[] {
  const out: QuoteTick[] = [];
  for (let i = 0; i < n; i++) {
    const bid = 64_999.5 + (i % 7) * 0.5;
    out.push({ ts: BASE_TS + i, bid, bsz: 0.75 + (i % 3) * 0.25, ask: bid + 0.5, asz: 1.2 + (i % 5) });
  }
  return out;
}

function tradeTicks(n: number): TradeTick[] {
  const out: TradeTick[] = [];
  for (let i = 0; i < n; i++)
    out.push({ ts: BASE_TS + i, px: 65_000 + (i % 11) * 0.25, qty: 0.0021 * (1 + (i % 4)), side: i % 2 ? 'b' : 's' });
  return out;
}

function rowOf(b: Benchmark, group: MicroRow['group'], name: string, impl: string, ticks: number, extra: Partial<MicroRow>): MicroRow {
  const nsPerOp = 1e9 / b.hz;
  return {
    group,
    name,
    impl,
    ticks,
    opsPerSec: round(b.hz, 0),
    nsPerOp: round(nsPerOp, 1),
    rmePct: round(b.stats.rme, 2),
    samples: b.stats.sample.length,
    ...extra,
    ...(ticks > 0 && group !== 'hub' ? { nsPerTick: round(nsPerOp / ticks, 1) } : {}),
  };
}

/** Runs benchmarks one at a time (synchronously) and returns one row each. */
function runSuite(cases: { name: string; fn: () => void; row: (b: Benchmark) => MicroRow }[], o: MicroOptions): MicroRow[] {
  const rows: MicroRow[] = [];
  for (const c of cases) {
    const b = new Benchmark(c.name, c.fn, { maxTime: o.maxTime, minSamples: o.minSamples ?? 5, initCount: 1, delay: 0 });
    b.run({ async: false });
    if (b.error) throw new Error(`micro benchmark ${c.name} failed: ${String(b.error)}`);
    const r = c.row(b);
    rows.push(r);
    o.onResult?.(r);
  }
  return rows;
}

/** Encoders of one upd message, and the deflate transform. */
export function runEncodeBenchmarks(o: MicroOptions): MicroRow[] {
  const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false });
  const enc = new MsgpackEncoder();
  // 64-bit integers (a ms timestamp written as uint64 by @msgpack/msgpack) decode as numbers.
  const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
  const cases: Parameters<typeof runSuite>[0] = [];
  for (const n of o.sizes ?? DEFAULT_SIZES) {
    const ticks = quoteTicks(n);
    const topic = 'quote.BTC-USD';
    const msg = { op: 'upd', topic, seq: 1_234_567, data: ticks };
    const frame = msgpackCodec.encodeUpd(topic, 'quote', 1_234_567, ticks, 0, n);
    // All four encode the same message (tickwire writes every number as float64, the others
    // choose the smallest representation, so sizes differ).
    const same = (bytes: Uint8Array | string) => {
      const v = (typeof bytes === 'string' ? JSON.parse(bytes) : unpackr.unpack(bytes)) as typeof msg;
      if (v.op !== 'upd' || v.topic !== topic || v.seq !== msg.seq || v.data.length !== n || v.data[n - 1]!.ts !== ticks[n - 1]!.ts)
        throw new Error('encoders disagree');
    };
    same(frame);
    same(packr.pack(msg));
    same(JSON.stringify(msg));
    same(enc.encode(msg));
    let sink: unknown;
    cases.push(
      {
        name: `tickwire writer ×${n}`,
        fn: () => void (sink = msgpackCodec.encodeUpd(topic, 'quote', 1_234_567, ticks, 0, n)),
        row: (b) => rowOf(b, 'encode', `upd ×${n}`, 'tickwire writer', n, { bytes: frame.length }),
      },
      {
        name: `msgpackr pack ×${n}`,
        fn: () => void (sink = packr.pack(msg)),
        row: (b) => rowOf(b, 'encode', `upd ×${n}`, 'msgpackr pack', n, { bytes: packr.pack(msg).length }),
      },
      {
        name: `JSON.stringify ×${n}`,
        fn: () => void (sink = JSON.stringify(msg)),
        row: (b) => rowOf(b, 'encode', `upd ×${n}`, 'JSON.stringify', n, { bytes: Buffer.byteLength(JSON.stringify(msg)) }),
      },
      {
        name: `@msgpack/msgpack encode ×${n}`,
        fn: () => void (sink = enc.encode(msg)),
        row: (b) => rowOf(b, 'encode', `upd ×${n}`, '@msgpack/msgpack encode', n, { bytes: enc.encode(msg).length }),
      },
      {
        name: `deflateFrame ×${n}`,
        fn: () => void (sink = deflateFrame(frame)),
        row: (b) =>
          rowOf(b, 'deflate', `deflateFrame(upd ×${n}) ${frame.length}→${deflateFrame(frame).length} B`, 'deflateFrame', n, {
            bytes: deflateFrame(frame).length,
          }),
      },
    );
    // The shared-deflate frame inflates back to the msgpack frame, which a standard decoder reads.
    if (!Buffer.from(inflateFrame(deflateFrame(frame))).equals(Buffer.from(frame)) || (msgpackDecode(frame) as { op: string }).op !== 'upd')
      throw new Error('bad deflate round trip');
    void sink;
  }
  return runSuite(cases, o);
}

/** One hub with S subscribers on M topics; each op publishes K ticks round-robin over the topics and flushes. */
export function runHubBenchmarks(o: MicroOptions): MicroRow[] {
  const cases: Parameters<typeof runSuite>[0] = [];
  for (const c of o.hub ?? DEFAULT_HUB) {
    const hub = new Hub<{ codec: number }>({
      epoch: 'bench',
      codecs: CODECS,
      maxTicksPerFrame: 256,
      historyMinWindowMs: 30_000,
      historyBudgetBytes: 2 * 1024 ** 3,
      historyMaxAgeMs: 120_000,
    });
    const symbols = Array.from({ length: Math.ceil(c.topics / 2) }, (_, i) => `S${i}`);
    const topics = symbols.flatMap((s) => [`trade.${s}`, `quote.${s}`]).slice(0, c.topics);
    const trades = tradeTicks(64);
    const quotes = quoteTicks(64);
    // Give every topic a first tick, then subscribe (snap frames are not part of the op).
    topics.forEach((t, i) => hub.publish(t, t.startsWith('trade.') ? trades[i % 64]! : quotes[i % 64]!));
    hub.flush(() => undefined, 0);
    for (let s = 0; s < c.subscribers; s++) {
      const sub = { codec: c.codec };
      for (const t of topics) hub.subscribe(sub, t);
    }
    let delivered = 0;
    const deliver = () => void delivered++;
    let now = 1;
    let k = 0;
    const op = () => {
      for (let i = 0; i < c.ticks; i++) {
        const t = topics[k % topics.length]!;
        hub.publish(t, t.charCodeAt(0) === 116 ? trades[k & 63]! : quotes[k & 63]!);
        k++;
      }
      hub.flush(deliver, now++);
    };
    delivered = 0;
    op();
    const perOp = delivered;
    const name = `flush ${c.ticks} ticks / ${c.topics} topics → ${c.subscribers} subs${c.codec === 2 ? ' (shared deflate)' : ''}`;
    cases.push({
      name,
      fn: op,
      row: (b) => {
        const r = rowOf(b, 'hub', name, c.codec === 2 ? 'hub + shared deflate' : 'hub', c.ticks, { deliveriesPerOp: perOp });
        r.nsPerDelivery = round(r.nsPerOp / perOp, 2);
        r.nsPerTick = round(r.nsPerOp / c.ticks, 1);
        return r;
      },
    });
  }
  return runSuite(cases, o);
}

async function runMicroScenario(ctx: ScenarioContext, sizes: Partial<Omit<MicroOptions, 'onResult'>>): Promise<ScenarioResult> {
  const o: MicroOptions = {
    maxTime: ctx.opts.quick ? 0.02 : 2,
    // Quick: fewer, shorter samples and two frame sizes; the figures are then rough (see rmePct).
    ...(ctx.opts.quick ? { minSamples: 2, sizes: [1, 256] } : {}),
    ...sizes,
    onResult: (r) =>
      ctx.log(
        `micro: ${r.name.padEnd(48)} ${r.impl.padEnd(24)} ${String(r.nsPerOp).padStart(10)} ns/op ` +
          `±${r.rmePct}%${r.nsPerDelivery !== undefined ? `  ${r.nsPerDelivery} ns/delivery` : ''}`,
      ),
  };
  const before = machineLoad();
  ctx.progress('micro: encoders and deflate');
  const enc = runEncodeBenchmarks(o);
  // Let the progress line render between the synchronous suites.
  await new Promise((r) => setImmediate(r));
  ctx.progress('micro: hub flush');
  const hub = runHubBenchmarks(o);
  const rows = [...enc, ...hub];
  const after = machineLoad();
  const by = (impl: string, n: number) => enc.find((r) => r.impl === impl && r.ticks === n && r.group === 'encode');
  const speedups = (o.sizes ?? DEFAULT_SIZES).map((n) => {
    const tw = by('tickwire writer', n);
    // Time of the tickwire writer ÷ time of the other encoder: > 1 means the writer is slower.
    return {
      ticks: n,
      writerTimeVsMsgpackr: round((tw?.nsPerOp ?? NaN) / (by('msgpackr pack', n)?.nsPerOp ?? NaN), 2),
      writerTimeVsJson: round((tw?.nsPerOp ?? NaN) / (by('JSON.stringify', n)?.nsPerOp ?? NaN), 2),
      writerTimeVsMsgpackMsgpack: round((tw?.nsPerOp ?? NaN) / (by('@msgpack/msgpack encode', n)?.nsPerOp ?? NaN), 2),
    };
  });
  return {
    goals: [],
    data: { rows, tickwireWriterTimeRatio: speedups, maxTimeSec: o.maxTime, machine: { before, after }, node: process.version },
    charts: [...microCharts(rows, o.sizes ?? DEFAULT_SIZES)],
    notes: [
      `**Micro-benchmarks** (benchmark.js, maxTime ${o.maxTime} s each, load ${before.loadavg1}→${after.loadavg1}). ` +
        'Time of the tickwire writer relative to the others (> 1: the writer is slower): ' +
        speedups
          .map(
            (s) =>
              `${s.ticks}-tick upd ${s.writerTimeVsMsgpackr}× msgpackr, ${s.writerTimeVsJson}× ` +
              `JSON.stringify, ${s.writerTimeVsMsgpackMsgpack}× @msgpack/msgpack`,
          )
          .join('; ') +
        ". The tickwire writer writes every tick number as float64 (protocol v1), so its frames are larger than msgpackr's; " +
        'JSON.stringify is measured to a string (no UTF-8 encoding). ' +
        `Hub: ${hub.map((r) => `${r.name}: ${r.nsPerDelivery} ns per delivered frame`).join('; ')} (deliver is a no-op: socket ` +
        `writes are not included).`,
    ],
  };
}

/** The micro-benchmark scenario; `o` overrides its sizes and times (e.g. for the smoke test). */
export function microScenario(o: Partial<Omit<MicroOptions, 'onResult'>> = {}): Scenario {
  return {
    id: 'micro',
    group: 'micro',
    title: 'Micro-benchmarks: frame encoding, shared deflate, hub flush',
    quick: true,
    run: (ctx) => runMicroScenario(ctx, o),
  };
}

export const scenarios: Scenario[] = [microScenario()];

/** The micro charts from the rows a run recorded (also `--render`). */
export function microCharts(rows: MicroRow[], sizes: number[]): ChartSpec[] {
  return [
    {
      name: 'micro-encode',
      title: 'Encoding one upd frame (ns per op, log scale; lower is better)',
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
        data: {
          values: rows
            .filter((r) => r.group !== 'hub')
            .map((r) => ({ frame: `${r.ticks} tick${r.ticks > 1 ? 's' : ''}`, impl: r.impl, nsPerOp: r.nsPerOp, bytes: r.bytes })),
        },
        mark: { type: 'bar', tooltip: true },
        encoding: {
          x: { field: 'frame', type: 'ordinal', sort: sizes.map((n) => `${n} tick${n > 1 ? 's' : ''}`), title: null },
          xOffset: { field: 'impl', type: 'nominal' },
          y: { field: 'nsPerOp', type: 'quantitative', scale: { type: 'log' }, title: 'ns per op' },
          color: { field: 'impl', type: 'nominal' },
        },
      },
    },
    {
      name: 'micro-hub',
      title: 'Hub publish + flush: ns per delivered frame',
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
        data: {
          values: rows
            .filter((r) => r.group === 'hub')
            .map((r) => ({ config: r.name, nsPerDelivery: r.nsPerDelivery, nsPerOp: r.nsPerOp })),
        },
        mark: { type: 'bar', tooltip: true },
        encoding: {
          y: { field: 'config', type: 'nominal', title: null },
          x: { field: 'nsPerDelivery', type: 'quantitative', title: 'ns per delivered frame' },
        },
      },
    },
  ];
}
