/**
 * Fan-out (P1–P4): one topic → N clients (1 000; 100 in --quick), the same feed (rate, seed,
 * symbols) for tickwire and every baseline, one server at a time, each in its own process.
 *
 * Two figures per server:
 * - delivered ticks/s at the offered load (what the clients received and checked);
 * - capacity: delivered ticks/s ÷ the server's main-thread CPU share, i.e. the ticks/s it would
 *   deliver with its event-loop thread at 100 % of one core (a linear projection; a run whose
 *   main thread is already ≥ 90 % busy is measured, not projected).
 * The goal value is the capacity ratio; the raw figures carry both, and the report says which
 * side (server or load generator) limited each run.
 *
 * Centrifugo (P4), a Go server, does its work on many threads: its capacity divides by its whole
 * process's CPU (all threads), always projected (ticks per CPU-second). It runs with its JSON and
 * its protobuf client protocol; P4 compares with the better of the two.
 */
import { goalResult, notMeasured } from '../goals.js';
import { checkInputOf, limitsOf, runProblems, withVerdict, type ValidityLimits } from '../validity.js';
import { measureRun, summarize, SYMBOLS, type RunFigures } from '../measure.js';
import { fmt, round, sleep } from '../stats.js';
import { barChart, groupedBarChart } from '../charts.js';
import { centrifugoAvailable, SERVERS, startServer, topicsAndSymbols, urlOf, type ServerId } from '../servers.js';
import type { ClientKind } from '../../loadgen/index.js';
import type { ChartSpec, GoalResult, Scenario, ScenarioContext, ScenarioResult } from '../types.js';

/**
 * The same-load rate: one-frame-per-tick baselines make every delivered tick a frame the load
 * generator must read, and on 2 shared cores it keeps up with roughly 50 000 frames/s; so by
 * default the feed offers about that many deliveries per second in total (ticks/s on the topic ×
 * clients). With 1 topic, ~70 % of the feed is on quote.BTC-USD.
 */
export const FANOUT_DELIVERY_BUDGET = 50_000;
/** Feed rate of the extra tickwire run in its batching regime (header-only check by the clients). */
export const FANOUT_HIGH_RATE = 3000;
/**
 * Feed rate of P4's batched pair (tickwire and Centrifugo protobuf, both read header-only): high
 * enough that both batch (Centrifugo sent 7.2 publications per frame at this load), low enough
 * that the load generator still reads every Centrifugo publication, one message each, on this
 * 2-core machine (at 3 000/s it fell behind at ~0.5 M publications/s).
 */
export const FANOUT_P4_BATCH_RATE = 600;

export interface FanoutRun {
  /** Key in results (server id, or `tickwire-high`). */
  key: string;
  server: ServerId;
  label: string;
  kind: ClientKind;
  rate: number;
  /** Extra server arguments (e.g. `--workers N`). */
  extra?: string[];
}

export interface FanoutParams {
  clients: number;
  topics: number;
  /** Same-load feed rate, for every server. */
  rate: number;
  /** Feed rate of the extra tickwire run. */
  highRate: number;
  /** Feed rate of P4's batched pair (FANOUT_P4_BATCH_RATE), when Centrifugo runs. */
  p4Rate: number;
  durationSec: number;
  warmupSec: number;
  runs: FanoutRun[];
}

export function fanoutParams(ctx: ScenarioContext, only?: ServerId[]): FanoutParams {
  const q = ctx.opts.quick;
  const clients = ctx.opts.clients ?? (q ? 100 : 1000);
  const topics = ctx.opts.topics ?? 1;
  // Share of the feed on the subscribed topics: quote 70 %, trade 30 % of each symbol.
  const share = topics === 1 ? 0.7 : 1;
  const rate = ctx.opts.rate ?? Math.max(10, Math.round(FANOUT_DELIVERY_BUDGET / (clients * share) / 10) * 10);
  const highRate = Math.max(FANOUT_HIGH_RATE, rate * 10);
  let servers: ServerId[] = ['tickwire', 'uws-raw', 'uws-raw-batch', 'ws-json', 'socketio'];
  if (centrifugoAvailable()) servers.push('centrifugo', 'centrifugo-protobuf');
  if (only) servers = servers.filter((s) => only.includes(s));
  const runs: FanoutRun[] = servers.map((id) => ({ key: id, server: id, label: SERVERS[id].label, kind: SERVERS[id].kind, rate }));
  if (servers.includes('tickwire'))
    runs.splice(1, 0, {
      key: 'tickwire-high',
      server: 'tickwire',
      label: `tickwire @ ${highRate}/s (header-only check)`,
      kind: 'tickwire-header',
      rate: highRate,
    });
  const batched = runs.findIndex((r) => r.key === 'uws-raw-batch');
  // P3's baseline runs at both of tickwire's rates (paired run by run); quick mode skips the high one.
  if (batched >= 0 && !q)
    runs.splice(batched + 1, 0, {
      key: 'uws-raw-batch-high',
      server: 'uws-raw-batch',
      label: `raw uWS publish, batched @ ${highRate}/s (header-only check)`,
      kind: 'uws-raw-header',
      rate: highRate,
    });
  // P4's baseline batches too (Centrifugo merges the publications queued for a client into one
  // frame), so a one-tick-per-frame load would project its capacity far below what it reaches when
  // it batches: it also runs at a rate where it does, with tickwire beside it at that rate, both
  // read header-only (Centrifugo over its protobuf protocol).
  const p4Rate = Math.max(FANOUT_P4_BATCH_RATE, rate * 2);
  const centrifugo = runs.findIndex((r) => r.key === 'centrifugo-protobuf');
  if (centrifugo >= 0 && !q) {
    runs.splice(
      centrifugo + 1,
      0,
      {
        key: 'tickwire-p4',
        server: 'tickwire',
        label: `tickwire @ ${p4Rate}/s (header-only check)`,
        kind: 'tickwire-header',
        rate: p4Rate,
      },
      {
        key: 'centrifugo-protobuf-batch',
        server: 'centrifugo-protobuf',
        label: `Centrifugo (protobuf) @ ${p4Rate}/s (header-only check)`,
        kind: 'centrifugo-protobuf-header',
        rate: p4Rate,
      },
    );
  }
  return { clients, topics, rate, highRate, p4Rate, durationSec: ctx.opts.durationSec ?? (q ? 2 : 10), warmupSec: q ? 1 : 2, runs };
}

/** One fan-out run: a fresh server fed at `run.rate`, `p.clients` clients on `p.topics` topics. */
export async function runFanout(
  ctx: ScenarioContext,
  run: FanoutRun,
  p: Pick<FanoutParams, 'clients' | 'topics' | 'durationSec' | 'warmupSec'>,
): Promise<RunFigures> {
  const { topics, symbols } = topicsAndSymbols(p.topics, SYMBOLS);
  const server = await startServer(run.server, { rate: run.rate, symbols }, { extra: run.extra ?? [] });
  try {
    await sleep(300);
    return await measureRun({
      label: run.label,
      server,
      isTickwire: run.server === 'tickwire',
      url: urlOf(run.server, server.port),
      kind: run.kind,
      cpuBasis: SERVERS[run.server].cpuBasis,
      clients: p.clients,
      topics,
      durationMs: p.durationSec * 1000,
      warmupMs: p.warmupSec * 1000,
      ctx,
    });
  } finally {
    await server.stop();
  }
}

/**
 * Capacity of a run: the ticks/s the server sends with its main thread at 100 % of one core.
 * Ticks counted are those the clients received, but never more than the server generated in the
 * window × subscribers (a load generator that fell behind reads a backlog from before the
 * window). Measured when the main thread was saturated (≥ 90 %), projected linearly otherwise.
 * A multi-threaded server (`cpuBasis` process) is always projected from all its threads' CPU:
 * its ticks per CPU-second, whatever number of cores it spread over.
 */
export function capacity(r: RunFigures): number {
  const e = r.delivered.expectedTicksPerSec;
  const ticks = Number.isFinite(e) && e > 0 ? Math.min(r.delivered.ticksPerSec, e) : r.delivered.ticksPerSec;
  if (r.server.cpuBasis === 'process') return ticks / (r.server.cpuPercent / 100);
  if (r.server.mainThreadPercent >= 90) return ticks;
  return ticks / (r.server.mainThreadPercent / 100);
}

/** How a run's capacity was obtained, for the goal's note. */
function capacityHow(r: RunFigures): string {
  if (r.server.cpuBasis === 'process') return `whole process, all threads, ${r.server.cpuPercent} % of a core: projected`;
  return r.server.mainThreadPercent >= 90 ? 'saturated: measured' : `main thread ${r.server.mainThreadPercent} %: projected`;
}

/** A run whose figures can stand for the server: it delivered (nearly) what was offered, with no silent gap. */
function valid(r: RunFigures | undefined): r is RunFigures {
  return r !== undefined && r.delivered.ratio >= 0.9 && r.correctness.gaps + r.correctness.outOfOrder === 0 && r.delivered.ticksPerSec > 0;
}

/** tickwire's capacity: the best of its same-load and high-rate runs that delivered what was offered. */
function bestRun(same: RunFigures | undefined, high: RunFigures | undefined): RunFigures | undefined {
  const ok = [same, high].filter(valid);
  if (ok.length === 0) return same;
  return ok.reduce((a, b) => (capacity(b) > capacity(a) ? b : a));
}

/** Ticks per frame may differ this much between two runs said to send the same frames. */
export const SAME_FRAMES_TOLERANCE = 0.2;

function framesDiffer(a: RunFigures, b: RunFigures): string | undefined {
  const x = a.delivered.ticksPerFrame;
  const y = b.delivered.ticksPerFrame;
  if (!(x > 0 && y > 0) || Math.abs(x / y - 1) <= SAME_FRAMES_TOLERANCE) return undefined;
  return `${a.label} sent ${x} ticks/frame, ${b.label} ${y}: not the same frames (tolerance ${SAME_FRAMES_TOLERANCE * 100} %)`;
}

/**
 * A fan-out goal (P1–P4) from tickwire's runs and a baseline's, with its verdict (validity.ts).
 * Two ratios (issue 18 pt 2): the capacity ratio (the goal value: each side's best valid run) and
 * the strict one (tickwire at the very load of the baseline run used, both per CPU-second). A
 * baseline with a high-rate run too (`o.baseHigh`: the batched raw uWS) is paired run by run;
 * `o.sameFrames` (P3) makes the goal invalid when the paired runs' frames differ in size.
 */
export function ratioGoal(
  id: string,
  same: RunFigures | undefined,
  high: RunFigures | undefined,
  baseSame: RunFigures | undefined,
  baseName: string,
  o: { quick: boolean; limits?: ValidityLimits; baseHigh?: RunFigures; sameFrames?: boolean } = { quick: false },
): GoalResult {
  const tw = bestRun(same, high);
  const base = bestRun(baseSame, o.baseHigh);
  if (!tw || !same || !base) return notMeasured(id, `not measured: the ${tw && same ? baseName : 'tickwire'} run failed`);
  const baseIsHigh = base === o.baseHigh && base !== baseSame;
  const twAtBaseLoad = baseIsHigh ? high : same;
  // The runs the value is computed from: the tickwire runs it used, the same-load one, the baseline.
  const behind = [...new Set([tw, same, base, ...(twAtBaseLoad ? [twAtBaseLoad] : [])])].map(checkInputOf);
  const value = capacity(tw) / capacity(base);
  const strictValue = twAtBaseLoad ? round(capacity(twAtBaseLoad) / capacity(base), 3) : null;
  const load = baseIsHigh ? 'high-rate' : 'same-load';
  const strictHow =
    `tickwire ÷ ${baseName}, both in their ${load} run (the same feed, ${base.delivered.ticksPerFrame} vs ` +
    `${twAtBaseLoad?.delivered.ticksPerFrame ?? '—'} ticks/frame): ticks delivered per CPU-second`;
  const howCapacity =
    `tickwire's best valid run (${tw === same ? 'same-load' : 'high-rate'}, ${fmt(capacity(tw), 2)} ticks/s at one core) ÷ ` +
    `${baseName}'s (${baseIsHigh ? 'high-rate' : 'same-load'}, ${fmt(capacity(base), 2)}: ${capacityHow(base)})`;
  const twGaps = tw.correctness.gaps + tw.correctness.outOfOrder;
  const raw = {
    tickwireCapacityTicksPerSec: round(capacity(tw), 0),
    tickwireCapacityFrom: tw === same ? 'same-load run' : 'high-rate run',
    baselineCapacityTicksPerSec: round(capacity(base), 0),
    baselineCapacityFrom: baseIsHigh ? 'high-rate run' : 'same-load run',
    strictRatio: strictValue,
    sameLoadCapacityRatio: round(capacity(same) / capacity(baseSame ?? base), 3),
    tickwireSameLoadCapacityTicksPerSec: round(capacity(same), 0),
    tickwireHighRateCapacityTicksPerSec: high ? round(capacity(high), 0) : null,
    tickwireDeliveredTicksPerSec: { sameLoad: same.delivered.ticksPerSec, highRate: high?.delivered.ticksPerSec ?? null },
    baselineDeliveredTicksPerSec: base.delivered.ticksPerSec,
    deliveredRatioAtSameLoad: round(same.delivered.ticksPerSec / (baseSame ?? base).delivered.ticksPerSec, 3),
    deliveredOfExpected: {
      tickwire: same.delivered.ratio,
      tickwireHighRate: high?.delivered.ratio ?? null,
      baseline: base.delivered.ratio,
    },
    ticksPerFrame: {
      tickwire: same.delivered.ticksPerFrame,
      tickwireHighRate: high?.delivered.ticksPerFrame ?? null,
      baseline: base.delivered.ticksPerFrame,
    },
    mainThreadPercent: {
      tickwire: same.server.mainThreadPercent,
      tickwireHighRate: high?.server.mainThreadPercent ?? null,
      baseline: base.server.mainThreadPercent,
    },
    baselineCapacityCpu: base.server.cpuBasis === 'process' ? 'whole process (all threads)' : 'main thread',
    baselineCpuPercent: base.server.cpuPercent,
    ticksPerCpuSec: {
      tickwire: same.server.ticksPerCpuSec,
      tickwireHighRate: high?.server.ticksPerCpuSec ?? null,
      baseline: base.server.ticksPerCpuSec,
    },
    bottleneck: { tickwire: same.bottleneck, tickwireHighRate: high?.bottleneck ?? null, baseline: base.bottleneck },
    gaps: { tickwire: same.correctness.gaps, tickwireHighRate: high?.correctness.gaps ?? null, baseline: base.correctness.gaps },
    clients: same.clients,
    otherPercent: {
      tickwire: same.machine.otherPercent,
      tickwireHighRate: high?.machine.otherPercent ?? null,
      baseline: base.machine.otherPercent,
    },
  };
  const bits = [
    `capacity (ticks/s at one saturated core): tickwire ${fmt(capacity(tw), 2)} ` +
      `(${raw.tickwireCapacityFrom}, ${tw.delivered.ticksPerFrame} ticks/frame), ` +
      `${baseName} ${fmt(capacity(base), 2)} (${raw.baselineCapacityFrom}, ${capacityHow(base)})`,
    `strict (${load}): ${strictValue ?? '—'}; delivered ratio at the same load ${round(raw.deliveredRatioAtSameLoad, 2)}`,
  ];
  if (base.delivered.ratio < 0.9)
    bits.push(
      `${baseName} delivered only ${Math.round(base.delivered.ratio * 100)} % of what was offered (limited by: ${base.bottleneck})`,
    );
  if (twGaps > 0) bits.push(`tickwire clients saw ${twGaps} sequence anomalies: fails`);
  let g = withVerdict(goalResult(id, value, raw, bits.join('; '), twGaps > 0 ? false : undefined), behind, o);
  // Against the batched raw uWS the claim is "the same frames": per-frame costs dominate, so a pair
  // whose frames differ in size (timer lateness on a busy machine merges batches) compares nothing.
  const framesApart = o.baseHigh && o.sameFrames ? framesDiffer(tw, base) : undefined;
  if (framesApart && g.pass !== null) g = { ...g, pass: null, status: `invalid: ${framesApart}` };
  else if (framesApart && g.status === 'smoke') g = { ...g, status: `invalid: ${framesApart}` };
  return { ...g, capacityHow: howCapacity, strict: { value: strictValue, how: strictHow } };
}

async function run(ctx: ScenarioContext, only?: ServerId[]): Promise<ScenarioResult> {
  const p = fanoutParams(ctx, only);
  const runs: Record<string, RunFigures> = {};
  const errors: Record<string, string> = {};
  const limits = limitsOf(ctx.opts);
  const repeats: Record<string, number> = {};
  for (const r of p.runs) {
    try {
      // Other processes' CPU above the limit: the run is repeated (bounded), then judged as it is.
      for (let attempt = 1; ; attempt++) {
        const f = await runFanout(ctx, r, p);
        runs[r.key] = f;
        ctx.log(summarize(f));
        if (f.machine.otherPercent <= limits.maxOtherCpuPercent || attempt >= (ctx.opts.quick ? 2 : 3)) break;
        repeats[r.key] = attempt;
        ctx.log(`${r.label}: other processes used ${f.machine.otherPercent} % CPU (max ${limits.maxOtherCpuPercent} %): repeating`);
        await sleep(1000);
      }
    } catch (e) {
      errors[r.key] = e instanceof Error ? e.message : String(e);
      ctx.log(`${r.label}: FAILED ${errors[r.key]}`);
    }
    await sleep(500);
  }
  const same = runs.tickwire;
  const high = runs['tickwire-high'];
  const has = (id: ServerId) => p.runs.some((r) => r.key === id);
  const goalFor = (id: string, base: ServerId): GoalResult => {
    if (!has(base)) {
      if (base === 'centrifugo') {
        const how = 'npm run peers:fetch builds one; or the PATH, or TICKWIRE_BENCH_CENTRIFUGO';
        return notMeasured(id, `not measured: no centrifugo binary (${how})`);
      }
      return notMeasured(id, `not measured: the ${SERVERS[base].label} baseline was not part of this run`);
    }
    const baseHigh = base === 'uws-raw-batch' ? runs['uws-raw-batch-high'] : undefined;
    const g = ratioGoal(id, same, high, runs[base], SERVERS[base].label, {
      quick: ctx.opts.quick,
      limits,
      ...(baseHigh ? { baseHigh } : {}),
      sameFrames: base === 'uws-raw-batch',
    });
    if (base === 'centrifugo' || base === 'centrifugo-protobuf') centrifugoNote(g);
    return g;
  };
  const centrifugoNote = (g: GoalResult): void => {
    g.raw.centrifugoCapacityTicksPerSec = Object.fromEntries(
      (['centrifugo', 'centrifugo-protobuf', 'centrifugo-protobuf-batch'] as const).map((k) => [
        k,
        runs[k] ? round(capacity(runs[k]), 0) : null,
      ]),
    );
    g.note =
      `${g.note ?? ''}; Centrifugo's CPU is its whole process (all threads) ` +
      "and includes parsing the HTTP API's JSON, which a hub fed in-process does not pay";
  };
  // At the same load Centrifugo sends one publication per frame: the better of its two protocols there.
  const centrifugoRuns = (['centrifugo-protobuf', 'centrifugo'] as const).filter((k) => runs[k]);
  const byCapacity = centrifugoRuns.filter((k) => valid(runs[k])).sort((a, b) => capacity(runs[b]!) - capacity(runs[a]!));
  const centrifugoBest = byCapacity[0] ?? centrifugoRuns[0] ?? 'centrifugo';
  /**
   * P4 where Centrifugo batches: tickwire and Centrifugo (protobuf) both at p4Rate, paired (value =
   * strict). From its one-publication-per-frame same-load runs, Centrifugo's capacity projects
   * several times below what it reaches when it batches, so those stay in the data and the note,
   * not behind the verdict. Quick mode has no batched pair: the same-load figure, as a smoke test.
   */
  const p4Goal = (): GoalResult => {
    if (!p.runs.some((r) => r.key === 'centrifugo-protobuf-batch')) return goalFor('P4', centrifugoBest);
    const twB = runs['tickwire-p4'];
    const cB = runs['centrifugo-protobuf-batch'];
    if (!twB || !cB) return notMeasured('P4', `not measured: the ${twB ? 'Centrifugo' : 'tickwire'} run at ${p.p4Rate}/s failed`);
    const g = ratioGoal('P4', twB, undefined, cB, `${SERVERS['centrifugo-protobuf'].label} @ ${p.p4Rate}/s`, {
      quick: ctx.opts.quick,
      limits,
    });
    if (g.value !== null) {
      const how =
        `tickwire @ ${p.p4Rate}/s (${fmt(capacity(twB), 2)} ticks per CPU-second, ${twB.delivered.ticksPerFrame} ticks/frame) ÷ ` +
        `Centrifugo (protobuf) @ ${p.p4Rate}/s (${fmt(capacity(cB), 2)}: ${capacityHow(cB)}; ` +
        `${cB.delivered.ticksPerFrame} publications per WebSocket frame), ` +
        'both read header-only: the pair where both batch, so capacity and strict are one figure';
      g.capacityHow = how;
      g.strict = { value: g.strict?.value ?? null, how };
    }
    const sameLoad = runs[centrifugoBest];
    if (same && sameLoad) {
      g.raw.sameLoadStrictRatio = round(capacity(same) / capacity(sameLoad), 3);
      g.raw.sameLoadBaseline = SERVERS[centrifugoBest].label;
      g.note =
        `${g.note ?? ''}; at the same load as P1–P3 (${p.rate}/s, one publication per frame) tickwire ÷ ` +
        `${SERVERS[centrifugoBest].label} = ${round(capacity(same) / capacity(sameLoad), 3)}`;
    }
    centrifugoNote(g);
    return g;
  };
  const goals: GoalResult[] = [goalFor('P1', 'ws-json'), goalFor('P2', 'socketio'), goalFor('P3', 'uws-raw-batch')];
  goals.push(p4Goal());
  // The one-tick-per-frame raw uWS publish (the old P3 baseline): what batching buys, informational.
  const best = bestRun(same, high);
  const oneTick = runs['uws-raw'];
  if (oneTick && best && goals[2]!.value !== null) {
    goals[2]!.raw.oneTickPerFrameUwsCapacityTicksPerSec = round(capacity(oneTick), 0);
    goals[2]!.raw.vsOneTickPerFrameUwsCapacityRatio = round(capacity(best) / capacity(oneTick), 3);
  }

  const list = p.runs.filter((r) => runs[r.key]).map((r) => ({ run: r, f: runs[r.key] as RunFigures }));
  const { topics, symbols } = topicsAndSymbols(p.topics, SYMBOLS);
  const table = [
    '| server | feed /s | delivered ticks/s | of expected | frames/s | ticks/frame | p50 / p99 / p99.9 / max ms | gaps | server ' +
      'CPU % (main) | capacity ticks/s | load-gen CPU % (worker ELU) | other % | limited by |',
    '|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---:|---|',
    ...list.map(
      ({ run: x, f: r }) =>
        `| ${r.label} | ${x.rate} | ${fmt(r.delivered.ticksPerSec, 2)} | ${(r.delivered.ratio * 100).toFixed(1)} % ` +
        `| ${fmt(r.delivered.framesPerSec)} | ${r.delivered.ticksPerFrame} | ${r.latencyMs.p50} / ${r.latencyMs.p99} ` +
        `/ ${r.latencyMs.p999} / ${r.latencyMs.max} | ${r.correctness.gaps} | ${r.server.cpuPercent} ` +
        `(${r.server.mainThreadPercent}) | ${fmt(capacity(r), 2)} | ${r.loadgen.cpuPercent} (${r.loadgen.workerElu.join(', ')}) ` +
        `| ${r.machine.otherPercent} | ${r.bottleneck} |`,
    ),
  ].join('\n');
  const notes = [
    `Load: ${p.clients} clients, each subscribed to ${topics.join(', ')}; the feed (same simulator, seed 1, burstiness 0.5, ` +
      `over ${symbols.join(', ')}; ` +
      `tickwire's without order-book records, as the baselines) offers ${p.rate} ticks/s to every server (the same load), ` +
      `window ${p.durationSec} s ` +
      `after ${p.warmupSec} s warm-up; plus one tickwire run at ${p.highRate} ticks/s, where it batches, whose clients check ` +
      `frames header-only (the load generator cannot decode that many ticks in ` +
      `full).${ctx.opts.quick ? ' Quick mode: fewer clients than the 1 000 of the goal (use a full run for the goal figure).' : ''}`,
    table,
    'What each side does per tick:\n' +
      [...new Set(p.runs.map((r) => r.server))].map((id) => `- **${SERVERS[id].label}** — ${SERVERS[id].describe}`).join('\n') +
      `\n- **tickwire @ ${p.highRate}/s** — the same gateway at the higher rate; its clients read each \`upd\` header-only ` +
      "(op, topic, seq, number of ticks, first tick's ts: bench/src/loadgen/msgpack-header.ts), so sequence checks are exact " +
      "and latency is that of each frame's oldest tick." +
      (p.runs.some((r) => r.key === 'uws-raw-batch-high')
        ? ' The batched raw uWS baseline is run at that rate too, read the same way.'
        : '') +
      (p.runs.some((r) => r.key === 'centrifugo-protobuf-batch')
        ? `\n- **Centrifugo (protobuf) @ ${p.p4Rate}/s** and **tickwire @ ${p.p4Rate}/s** — P4's batched pair: Centrifugo ` +
          'batches too (the publications queued for a client go out in one frame), so it is also measured at a rate where it ' +
          "does, beside tickwire at that rate; its clients read each publication's JSON only up to `seq` and the first tick's " +
          "`ts` (centrifugo-protobuf.ts `readUpdHeadJson`), tickwire's header-only as above. The rate is one at which the load " +
          'generator still reads every publication (Centrifugo sends each as its own message) on this machine.'
        : ''),
    '**How the goal value is computed.** The goals compare how many ticks/s each server can deliver to these clients. On this ' +
      'machine the load generator shares 2 cores with the server (and other sessions: "other %"), and one-frame-per-tick ' +
      'baselines turn every tick into a frame it must read, so no server can be driven to saturation with the load generator ' +
      "keeping up. Each run therefore yields a capacity: delivered ticks/s ÷ the server's main-thread CPU share, i.e. the ticks/s " +
      'at one saturated core (measured directly when the main thread was ≥ 90 % busy; a linear projection otherwise, which counts ' +
      'fixed costs — feed simulation, timers, heartbeats — against the less busy server). A baseline that sends one frame per tick ' +
      'costs the same per tick at any rate, so its capacity does not depend on the rate; tickwire batches, so its capacity grows ' +
      "with the ticks per topic per flush. The goal value is tickwire's best capacity (same-load or high-rate run, whichever " +
      "delivered everything offered with no gap and is higher) ÷ the baseline's best (P3's batched raw uWS also runs at both " +
      'rates); the **strict** ratio is tickwire ÷ the baseline at the very load of the baseline run used (`raw.strictRatio`), ' +
      'and `raw.deliveredRatioAtSameLoad` the ratio of what the clients actually received. P3 compares with raw uWS ' +
      'publishing the same batched frames (the one-tick-per-frame publish is in `raw.vsOneTickPerFrameUwsCapacityRatio`). ' +
      'P4 is the exception: its value is the batched pair at one rate (below), so capacity and strict are the same figure.',
  ];
  if (p.runs.some((r) => r.server === 'centrifugo' || r.server === 'centrifugo-protobuf')) {
    notes.push(
      "**Centrifugo's CPU** is its whole process, all threads (/proc/<pid>/stat utime + stime): a Go server spreads its work " +
        'over many threads and its main thread is nearly idle, so its capacity is its delivered ticks per CPU-second (projected). ' +
        "It includes parsing the HTTP publish API's JSON, which tickwire's hub, fed in-process by its embedded simulator, does not pay; " +
        "the feeder process's own CPU is reported apart. " +
        (p.runs.some((r) => r.key === 'centrifugo-protobuf-batch')
          ? `P4's verdict is the batched pair at ${p.p4Rate}/s (Centrifugo over protobuf); the better of its JSON and ` +
            "protobuf protocols at the same load is in P4's note."
          : 'P4 compares with the better of its JSON and protobuf protocols at the same load (no batched pair in quick mode).'),
    );
  }
  if (Object.keys(errors).length)
    notes.push(
      `Failed runs: ${Object.entries(errors)
        .map(([k, v]) => `${k}: ${v}`)
        .join('; ')}`,
    );
  const fs = list.map((x) => x.f);
  const charts = fanoutCharts(p.clients, fs);
  const invalidRuns = list.map(({ f }) => runProblems(checkInputOf(f), limits)).flat();
  if (invalidRuns.length) {
    notes.push(`**Runs whose figures cannot stand behind a verdict** (their goals are \`invalid\`): ${invalidRuns.join('; ')}.`);
  }
  const repeated = Object.entries(repeats).map(([k, n]) => `${k} ×${n}`);
  if (repeated.length) notes.push(`Repeated because other processes were busy: ${repeated.join(', ')}.`);
  return { goals, data: { params: p, runs, errors, repeats }, charts, notes };
}

/** The fan-out scenario; `servers` restricts the servers run (e.g. for the smoke test). */
export function fanoutScenario(servers?: ServerId[]): Scenario {
  return {
    id: 'fanout',
    group: 'fanout',
    title: 'Fan-out: 1 topic → N clients, tickwire vs baselines (P1–P4)',
    quick: true,
    run: (ctx) => run(ctx, servers),
  };
}

export const scenarios: Scenario[] = [fanoutScenario()];

/** The fan-out charts from the runs a run recorded, in run order (also `--render`). */
export function fanoutCharts(clients: number, fs: RunFigures[]): ChartSpec[] {
  return [
    barChart(
      'fanout-delivered',
      `Delivered ticks/s, 1 topic → ${clients} clients`,
      fs.map((r) => ({ label: r.label, value: r.delivered.ticksPerSec })),
      { xTitle: 'ticks/s delivered (measured)' },
    ),
    barChart(
      'fanout-capacity',
      'Capacity: ticks/s at one saturated core (delivered ÷ main-thread CPU share), log scale',
      fs.map((r) => ({ label: r.label, value: capacity(r) })),
      { xTitle: 'ticks/s at 100 % main thread', log: true },
    ),
    groupedBarChart(
      'fanout-latency',
      'Tick latency (stamped at generation → decoded in the client), ms, log scale',
      fs.flatMap((r) => [
        { label: r.label, series: 'p50', value: Math.max(r.latencyMs.p50, 0.5) },
        { label: r.label, series: 'p99', value: Math.max(r.latencyMs.p99, 0.5) },
        { label: r.label, series: 'p99.9', value: Math.max(r.latencyMs.p999, 0.5) },
        { label: r.label, series: 'max', value: Math.max(r.latencyMs.max, 0.5) },
      ]),
      { yTitle: 'ms', log: true },
    ),
  ];
}
