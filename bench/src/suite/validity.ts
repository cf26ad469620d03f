/**
 * Issue 18 point 1: a goal is a ratio of figures from runs, and a ratio of figures that contradict
 * themselves is not a result. Before a verdict every goal checks the runs behind it: clients got
 * no more than was offered (a count above it means the offered count is wrong), no client
 * errors, other processes left the cores alone; a goal that fails a check is `invalid: <reason>`,
 * never pass or fail. A quick run is a smoke test: goals defined at full scale get `smoke`.
 * Pure: no I/O, so the checks are unit-tested with made-up figures (bench/test/verdicts.test.ts).
 */
import type { RunFigures } from './measure.js';
import type { GoalResult } from './types.js';

/** The figures of one measured run a verdict depends on (a subset of measure.ts's RunFigures). */
export interface RunCheckInput {
  label: string;
  delivered: { ticksPerSec: number; expectedTicksPerSec: number };
  /** Seconds between the two offered-count samples, and the window they should span. */
  offered?: { spanSec: number; windowSec: number };
  loadgen: { errors: string[] };
  correctness?: { badFrames: number; closeCodes?: Record<string, number> };
  machine: { otherPercent: number };
  bottleneck: string;
}

export interface ValidityLimits {
  /** Delivered may exceed offered by this share (sampling edges), no more. */
  overDeliveryTolerance: number;
  /** Other processes' CPU during the window, % of one core (machine busy minus ours). */
  maxOtherCpuPercent: number;
  /** The offered count must be sampled over at least this share of the window. */
  minOfferedSpanShare: number;
}

export const DEFAULT_LIMITS: ValidityLimits = { overDeliveryTolerance: 0.05, maxOtherCpuPercent: 50, minOfferedSpanShare: 0.8 };

/** The check input of a measured run. */
export function checkInputOf(r: RunFigures): RunCheckInput {
  const span = r.delivered.offeredSpanSec;
  return { ...r, ...(span !== undefined ? { offered: { spanSec: span, windowSec: r.windowSec } } : {}) };
}

/** Limits from the suite options (`--max-other-cpu`). */
export function limitsOf(opts: { maxOtherCpu?: number }): ValidityLimits {
  return opts.maxOtherCpu !== undefined ? { ...DEFAULT_LIMITS, maxOtherCpuPercent: opts.maxOtherCpu } : DEFAULT_LIMITS;
}

/** Why a run's figures cannot stand behind a verdict; empty when they can. */
export function runProblems(r: RunCheckInput, limits: ValidityLimits = DEFAULT_LIMITS): string[] {
  const out: string[] = [];
  const { ticksPerSec: got, expectedTicksPerSec: offered } = r.delivered;
  if (!(Number.isFinite(offered) && offered > 0)) out.push(`${r.label}: no offered count`);
  else if (!Number.isFinite(got)) out.push(`${r.label}: no delivered count`);
  else if (got > offered * (1 + limits.overDeliveryTolerance)) {
    out.push(`${r.label} delivered ${(got / offered).toFixed(2)}× what was offered (${Math.round(got)} > ${Math.round(offered)} ticks/s)`);
  }
  if (r.offered && !(r.offered.spanSec >= r.offered.windowSec * limits.minOfferedSpanShare)) {
    out.push(`${r.label}: offered count sampled over ${r.offered.spanSec.toFixed(2)} s of the ${r.offered.windowSec} s window`);
  }
  const errs = r.loadgen.errors;
  if (errs.length > 0) out.push(`${r.label}: client errors (${errs[0]}${errs.length > 1 ? ', …' : ''})`);
  if ((r.correctness?.badFrames ?? 0) > 0) out.push(`${r.label}: ${r.correctness?.badFrames} bad frames`);
  const other = r.machine.otherPercent;
  if (!Number.isFinite(other)) out.push(`${r.label}: other processes' CPU not measured`);
  else if (other > limits.maxOtherCpuPercent) {
    out.push(`${r.label}: other processes used ${Math.round(other)} % CPU (max ${limits.maxOtherCpuPercent} %)`);
  }
  return out;
}

/** The labels of runs the load generator limited (their figures stand, labelled). */
export function loadgenLimited(runs: RunCheckInput[]): string[] {
  return runs.filter((r) => r.bottleneck === 'load generator' || r.bottleneck === 'both').map((r) => r.label);
}

/**
 * The final verdict of a goal from the runs behind it: `invalid: …` (pass null) when a run's
 * figures fail a check; otherwise, in quick mode, `smoke` (pass null, value kept); otherwise
 * pass/fail as measured, labelled when the load generator limited a run.
 */
export function withVerdict(g: GoalResult, runs: RunCheckInput[], o: { quick: boolean; limits?: ValidityLimits }): GoalResult {
  const problems = runs.flatMap((r) => runProblems(r, o.limits));
  const limited = loadgenLimited(runs);
  const extra = limited.length ? { limitedBy: `load generator (${limited.join(', ')})` } : {};
  if (problems.length) return { ...g, ...extra, pass: null, status: `invalid: ${problems.join('; ')}` };
  return smokeOrStatus({ ...g, ...extra }, o.quick);
}

/** Quick mode never passes or fails a goal; otherwise the status says what `pass` says. */
export function smokeOrStatus(g: GoalResult, quick: boolean): GoalResult {
  if (g.status?.startsWith('invalid')) return { ...g, pass: null };
  if (quick && g.pass !== null) return { ...g, pass: null, status: 'smoke' };
  if (g.status) return g;
  return { ...g, status: g.pass === true ? 'pass' : g.pass === false ? 'fail' : g.value === null ? 'not measured' : 'no verdict' };
}

/** What the books scenario checks beside the run checks: the sample client's book and the ingest rate. */
export interface BookRunCheckInput {
  label: string;
  /** Load-generator clients: gaps on the raw topic (a throttled view skips seqs by design), resyncs (conflation). */
  gaps: number;
  resyncs: number;
  /** The sample client that applied every change set (book-verify.ts). */
  verify: { checked: number; mismatches: number; gaps: number; outOfOrder: number; errors: string[] };
  /** Book change sets ingested per second in the window (the raw topic's seq), and the rate asked of the feed. */
  ingestPerSec: number;
  targetPerSec: number;
}

/** The feed may fall this far below the asked ingest rate before a run's figures no longer describe that load. */
export const MIN_INGEST_SHARE = 0.8;

/**
 * Why a books run cannot stand behind a verdict: the clients missed change sets, a checksum did
 * not verify, the sample client saw nothing to check, or the gateway did not ingest the asked rate.
 */
export function bookRunProblems(r: BookRunCheckInput): string[] {
  const out: string[] = [];
  if (r.gaps > 0) out.push(`${r.label}: ${r.gaps} gaps`);
  if (r.resyncs > 0) out.push(`${r.label}: ${r.resyncs} resyncs (clients conflated: the gateway did not send everything)`);
  const v = r.verify;
  if (v.checked === 0) out.push(`${r.label}: the sample client verified no checksum`);
  if (v.mismatches > 0) out.push(`${r.label}: ${v.mismatches} of ${v.checked} checksums did not verify`);
  if (v.gaps + v.outOfOrder > 0) out.push(`${r.label}: sample client saw ${v.gaps} gaps, ${v.outOfOrder} out of order`);
  if (v.errors.length > 0) out.push(`${r.label}: sample client errors (${v.errors[0]})`);
  if (!(r.ingestPerSec >= r.targetPerSec * MIN_INGEST_SHARE)) {
    out.push(`${r.label}: ingested ${Math.round(r.ingestPerSec)} change sets/s of the ${r.targetPerSec} asked`);
  }
  return out;
}

/** A goal's verdict with the books checks added: any problem makes it `invalid`, never pass or fail. */
export function withBookVerdict(
  g: GoalResult,
  runs: RunCheckInput[],
  books: BookRunCheckInput[],
  o: { quick: boolean; limits?: ValidityLimits },
): GoalResult {
  const v = withVerdict(g, runs, o);
  const problems = books.flatMap(bookRunProblems);
  if (problems.length === 0) return v;
  const prior = v.status?.startsWith('invalid: ') ? v.status.slice('invalid: '.length) + '; ' : '';
  return { ...v, pass: null, status: `invalid: ${prior}${problems.join('; ')}` };
}
