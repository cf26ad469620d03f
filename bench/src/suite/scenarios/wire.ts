/**
 * Wire bytes per tick (P7, P7b; it replaced the retired wire-size script): one gateway (embedded
 * feed, all 14 topics, `--compression dedicated` so permessage-deflate can be offered), one client per
 * encoding subscribed to every topic, TCP bytes read by each client (WebSocket framing
 * included) ÷ ticks it received, over the same window:
 *   msgpack batched, JSON batched, msgpack + per-socket permessage-deflate, msgpack + shared
 *   deflate (tickwire.v1.msgpack+deflate), msgpack-compact (tickwire.v1.msgpack-compact: P7);
 * and the naive baseline, JSON one tick per frame, computed from the very ticks the msgpack
 * client received (`{op:"upd",topic,seq,data:[tick]}` + its 2- or 4-byte frame header), and
 * measured on a real socket of the ws + JSON baseline server fed by the same simulator.
 */
import { inflateRawSync } from 'node:zlib';
import { DEFLATE_DICTIONARIES } from '../../../../protocol/src/deflate-dictionaries.js';
import { decode, encode } from '@msgpack/msgpack';
import { expandCompact } from '../../../../client/ts/src/compact.js';
import WebSocket from 'ws';
import { barChart } from '../charts.js';
import { goalResult, notMeasured } from '../goals.js';
import { ALL_TOPICS, SYMBOLS } from '../measure.js';
import { round, sleep } from '../stats.js';
import { startServer, urlOf } from '../servers.js';
import type { GoalResult, Scenario, ScenarioContext, ScenarioResult } from '../types.js';
import { smokeOrStatus } from '../validity.js';

interface Mode {
  name: string;
  protocol?: string;
  perMessageDeflate?: boolean;
  json?: boolean;
}

const MODES: Mode[] = [
  { name: 'msgpack batched', protocol: 'tickwire.v1.msgpack' },
  { name: 'JSON batched', protocol: 'tickwire.v1.json', json: true },
  { name: 'msgpack + permessage-deflate (per socket)', protocol: 'tickwire.v1.msgpack', perMessageDeflate: true },
  { name: 'msgpack + shared deflate', protocol: 'tickwire.v1.msgpack+deflate' },
  { name: 'msgpack-compact (integer columns)', protocol: 'tickwire.v1.msgpack-compact' },
  { name: 'msgpack-compact + shared deflate, dictionaries', protocol: 'tickwire.v1.msgpack-compact+deflate.d1' },
];
const COMPACT = MODES.findIndex((m) => m.protocol === 'tickwire.v1.msgpack-compact');
const COMPACT_DEFLATE = MODES.findIndex((m) => m.protocol === 'tickwire.v1.msgpack-compact+deflate.d1');

interface Measured {
  bytes: number;
  ticks: number;
  frames: number;
  /** JSON one-tick-per-frame bytes of the same ticks (computed). */
  jsonOneTickBytes: number;
  gaps: number;
}

/** One client for `seconds` after a 1 s settle (past the snapshots). */
async function measure(url: string, mode: Mode, seconds: number, sub: () => string | Uint8Array): Promise<Measured> {
  const ws = new WebSocket(url, mode.protocol ? [mode.protocol] : [], { perMessageDeflate: mode.perMessageDeflate ?? false });
  try {
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    let counting = false;
    const r: Measured = { bytes: 0, ticks: 0, frames: 0, jsonOneTickBytes: 0, gaps: 0 };
    const next = new Map<string, number>();
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (mode.protocol?.endsWith('+deflate')) data = data[0] === 1 ? inflateRawSync(data.subarray(1)) : data.subarray(1);
      if (mode.protocol?.endsWith('+deflate.d1')) {
        const dictionary = DEFLATE_DICTIONARIES[data[0] as number];
        data = dictionary ? inflateRawSync(data.subarray(1), { dictionary }) : data.subarray(1);
      }
      const value: unknown = isBinary ? decode(data) : JSON.parse(data.toString());
      // Compact frames carry columns; counted as the ticks they expand to (the SDK's decoder).
      const m = (mode.protocol?.includes('-compact') ? expandCompact(value) : value) as {
        op: string;
        topic: string;
        seq: number;
        data: unknown;
      };
      if (m.op === 'snap') next.set(m.topic, m.seq + 1);
      if (m.op !== 'upd' || !Array.isArray(m.data)) return;
      const exp = next.get(m.topic);
      if (exp !== undefined && exp !== m.seq) r.gaps++;
      next.set(m.topic, m.seq + m.data.length);
      if (!counting) return;
      r.frames++;
      r.ticks += m.data.length;
      m.data.forEach((t, i) => {
        const len = Buffer.byteLength(JSON.stringify({ op: 'upd', topic: m.topic, seq: m.seq + i, data: [t] }));
        r.jsonOneTickBytes += len + (len < 126 ? 2 : len < 65536 ? 4 : 10); // server→client WebSocket header
      });
    });
    ws.send(sub());
    await sleep(1000);
    const socket = (ws as unknown as { _socket: { bytesRead: number } })._socket;
    const start = socket.bytesRead;
    counting = true;
    await sleep(seconds * 1000);
    counting = false;
    r.bytes = socket.bytesRead - start;
    return r;
  } finally {
    ws.terminate();
  }
}

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const q = ctx.opts.quick;
  const rate = ctx.opts.rate ?? 5000;
  const seconds = ctx.opts.durationSec ?? (q ? 3 : 10);
  const feed = { rate, symbols: SYMBOLS };
  const gw = await startServer('tickwire', feed, { extra: ['--compression', 'dedicated'] });
  const base = await startServer('ws-json', feed).catch(async (e: unknown) => {
    await gw.stop();
    throw e;
  });
  let results: Measured[];
  let baseline: Measured | undefined;
  try {
    await sleep(300);
    ctx.progress(
      `measuring ${MODES.length} encodings on tickwire and JSON one-tick frames on the ws baseline for ${seconds} s ` +
        `(feed ${rate} ticks/s, ${ALL_TOPICS.length} topics)`,
    );
    const subMsg = { op: 'sub', id: 1, topics: ALL_TOPICS };
    const all = await Promise.all([
      ...MODES.map((m) => measure(urlOf('tickwire', gw.port), m, seconds, () => (m.json ? JSON.stringify(subMsg) : encode(subMsg)))),
      measure(urlOf('ws-json', base.port), { name: 'ws-json', json: true }, seconds, () => JSON.stringify(subMsg)),
    ]);
    results = all.slice(0, MODES.length);
    baseline = all[MODES.length];
  } finally {
    await Promise.all([gw.stop(), base.stop()]);
  }
  const ref = results[0]!;
  const jsonOneTick = ref.jsonOneTickBytes / ref.ticks;
  const rows = [
    {
      mode: 'JSON one tick per frame (naive, computed from the same ticks)',
      bytesPerTick: jsonOneTick,
      ticks: ref.ticks,
      frames: ref.ticks,
    },
    ...(baseline
      ? [
          {
            mode: 'JSON one tick per frame (measured on the ws + JSON baseline)',
            bytesPerTick: baseline.bytes / baseline.ticks,
            ticks: baseline.ticks,
            frames: baseline.frames,
          },
        ]
      : []),
    ...results.map((r, i) => ({ mode: MODES[i]!.name, bytesPerTick: r.bytes / r.ticks, ticks: r.ticks, frames: r.frames })),
  ].map((r) => ({ ...r, bytesPerTick: round(r.bytesPerTick, 2), vsJsonOneTick: round(r.bytesPerTick / jsonOneTick, 4) }));
  const msgpack = results[0]!.bytes / results[0]!.ticks;
  const shared = results[3]!.bytes / results[3]!.ticks;
  const compact = results[COMPACT]!.bytes / results[COMPACT]!.ticks;
  const cd = results[COMPACT_DEFLATE]!;
  const compactDeflate = cd.bytes / cd.ticks;
  const gaps = results.reduce((a, r) => a + r.gaps, 0);
  const raw = (x: number, name: string) => ({
    [`${name}BytesPerTick`]: round(x, 2),
    jsonOneTickBytesPerTick: round(jsonOneTick, 2),
    ticks: ref.ticks,
    feedRate: rate,
    windowSec: seconds,
    topics: ALL_TOPICS.length,
    jsonOneTickMeasuredOnBaselineBytesPerTick: baseline ? round(baseline.bytes / baseline.ticks, 2) : null,
  });
  const goals =
    ref.ticks > 0
      ? [
          goalResult(
            'P7',
            compact / jsonOneTick,
            {
              ...raw(compact, 'compact'),
              // The former P7 figure, kept for comparison: msgpack batched ÷ JSON one-tick.
              msgpackBatchedBytesPerTick: round(msgpack, 2),
              msgpackBatchedVsJsonOneTick: round(msgpack / jsonOneTick, 4),
              compactTicksPerFrame: round(results[COMPACT]!.ticks / Math.max(1, results[COMPACT]!.frames), 2),
            },
            `msgpack-compact ${round(compact, 1)} B/tick vs JSON one-tick ${round(jsonOneTick, 1)} B/tick (TCP bytes incl. ` +
              `WebSocket framing; msgpack batched ${round(msgpack, 1)} B/tick = ${round(msgpack / jsonOneTick, 2)}×)`,
          ),
          goalResult(
            'P7b',
            shared / jsonOneTick,
            raw(shared, 'sharedDeflate'),
            `shared deflate ${round(shared, 1)} B/tick vs JSON one-tick ${round(jsonOneTick, 1)} B/tick`,
          ),
        ]
      : [notMeasured('P7', 'not measured: no ticks received'), notMeasured('P7b', 'not measured: no ticks received')];
  if (ref.ticks > 0) {
    const p8b = goalResult(
      'P8b',
      compactDeflate / jsonOneTick,
      {
        ...raw(compactDeflate, 'compactDeflate'),
        compactDeflateTicks: cd.ticks,
        compactDeflateTicksPerFrame: round(cd.ticks / Math.max(1, cd.frames), 2),
        compactBytesPerTick: round(compact, 2),
      },
      `compact + shared deflate with dictionaries ${round(compactDeflate, 1)} B/tick vs JSON one-tick ${round(jsonOneTick, 1)} B/tick ` +
        `(compact without compression ${round(compact, 1)})`,
    );
    goals.push(smokeOrStatus(withProblems(p8b, p8bProblems(cd, results[COMPACT]!)), ctx.opts.quick));
  }
  const table = [
    '| encoding | bytes/tick | × JSON one-tick | ticks | frames |',
    '|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.mode} | ${r.bytesPerTick} | ${r.vsJsonOneTick} | ${r.ticks} | ${r.frames} |`),
  ].join('\n');
  return {
    goals,
    data: { rate, seconds, rows, sequenceGapsSeen: gaps },
    notes: [
      `Feed ${rate} ticks/s over all ${ALL_TOPICS.length} topics, flush 2 ms (gateway default), one client per encoding ` +
        `subscribed to every topic, ${seconds} s window after 1 s. Bytes are TCP bytes read by the client (WebSocket framing ` +
        `included).${gaps ? ` ${gaps} sequence gaps seen (unexpected).` : ''}`,
      table,
      'Batching depends on the tick rate per topic: at lower rates frames carry fewer ticks and msgpack batched moves towards ' +
        'the one-tick size.',
    ],
    charts: [
      barChart(
        'wire-bytes-per-tick',
        `Wire bytes per tick (feed ${rate} ticks/s, ${ALL_TOPICS.length} topics)`,
        rows.map((r) => ({ label: r.mode, value: r.bytesPerTick })),
        { xTitle: 'bytes per tick (TCP, incl. framing)' },
      ),
    ],
  };
}

/**
 * Why P8b's bytes cannot stand: the compressed client must have seen the same stream as the
 * uncompressed compact one (no gaps, ticks within 10 % over the same window), else bytes per tick
 * compare different traffic (a client that fell behind reads fewer, larger frames).
 */
export function p8bProblems(on: { ticks: number; gaps: number }, off: { ticks: number; gaps: number }): string[] {
  const out: string[] = [];
  if (!(on.ticks > 0)) out.push('compact + deflate client received no ticks');
  if (on.gaps || off.gaps) out.push(`sequence gaps (on ${on.gaps}, off ${off.gaps})`);
  if (on.ticks > 0 && off.ticks > 0 && Math.abs(on.ticks - off.ticks) > 0.1 * Math.max(on.ticks, off.ticks))
    out.push(`the compressed and plain compact clients saw different traffic (${on.ticks} vs ${off.ticks} ticks)`);
  return out;
}

function withProblems(g: GoalResult, problems: string[]): GoalResult {
  return problems.length ? { ...g, pass: null, status: `invalid: ${problems.join('; ')}` } : g;
}

export const scenarios: Scenario[] = [{ id: 'wire', group: 'wire', title: 'Wire bytes per tick (P7)', quick: true, run }];
