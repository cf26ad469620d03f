import { createReadStream } from 'node:fs';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { Pacer } from './pacer.js';
import { createLineParser, formatOf, isReplayError, ReplayClock, type ReplayError } from './replay.js';
import type { FeedEvent, FeedValue, MarketSimulator } from './simulator.js';

/**
 * The producing loops of `tickwire-feed`: the simulator (paced or flat out) and file replay. They
 * push into a TickTarget (the KafkaSink) and respect its backpressure: when push() returns false
 * they stop generating until ready() resolves, so memory stays bounded however slow Kafka is.
 */
export interface TickTarget {
  push(topic: string, tick: FeedValue): boolean;
  ready(): Promise<void>;
}

export type StopReason = 'count' | 'duration' | 'signal' | 'end' | 'empty';

export interface Limits {
  /** Stop after this many ticks. */
  count?: number | undefined;
  /** Stop after this long (ms of wall time). */
  durationMs?: number | undefined;
  /** Stop when aborted (SIGINT/SIGTERM). */
  signal?: AbortSignal | undefined;
}

/** Ticks generated between event-loop yields when running flat out. */
const CHUNK = 256;

/** Resolves when `target` has room, or when `signal` aborts (whichever comes first). */
function untilReady(target: TickTarget, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return target.ready();
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done);
    target.ready().then(done, done);
  });
}

/** Sleeps `ms`, or less if `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done);
  });
}

export interface SimRunOptions extends Limits {
  simulator: MarketSimulator;
  target: TickTarget;
  /** Mean ticks per second; 0 = as fast as the target takes them. */
  rate: number;
  burstiness: number;
  seed: number;
}

/** Runs the simulator into `target` until a limit is reached. */
export function runSim(opts: SimRunOptions): Promise<StopReason> {
  return opts.rate === 0 ? runFlatOut(opts) : runPaced(opts);
}

/**
 * The embedded feed's Pacer at `rate`; paused (not buffered) while the target is full. A target whose ready()
 * rejects ends the run with that error, as the flat-out loop's `await` does.
 */
function runPaced(opts: SimRunOptions): Promise<StopReason> {
  const { target, count, durationMs, signal } = opts;
  return new Promise((resolve, reject) => {
    let produced = 0;
    let done = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const end = (): boolean => {
      if (done) return false;
      done = true;
      pacer.stop();
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      return true;
    };
    const finish = (reason: StopReason): void => {
      if (end()) resolve(reason);
    };
    const fail = (err: unknown): void => {
      if (end()) reject(err instanceof Error ? err : new Error(String(err)));
    };
    const onAbort = (): void => finish('signal');
    const pacer = new Pacer({
      rate: opts.rate,
      burstiness: opts.burstiness,
      seed: opts.seed,
      simulator: opts.simulator,
      emit: (events) => {
        if (done) return;
        // `count` counts ticks; the book records before a tick go with it.
        let ok = true;
        for (const e of events) {
          if (count !== undefined && produced >= count) break;
          if (!target.push(e.topic, e.tick)) ok = false;
          if (!e.topic.startsWith('book.')) produced++;
        }
        if (count !== undefined && produced >= count) return finish('count');
        if (!ok) {
          // Backpressure: stop the clock; start() later resumes at the rate without a backlog.
          pacer.stop();
          untilReady(target, signal).then(() => {
            if (!done) pacer.start();
          }, fail);
        }
      },
    });
    if (signal?.aborted) return finish('signal');
    signal?.addEventListener('abort', onAbort);
    if (durationMs !== undefined) timer = setTimeout(() => finish('duration'), durationMs);
    pacer.start();
  });
}

/** No pacer: generate chunks back to back, as fast as the target accepts them. */
async function runFlatOut(opts: SimRunOptions): Promise<StopReason> {
  const { simulator, target, count, durationMs, signal } = opts;
  const t0 = Date.now();
  let produced = 0;
  for (;;) {
    if (signal?.aborted) return 'signal';
    const now = Date.now();
    if (durationMs !== undefined && now - t0 >= durationMs) return 'duration';
    const n = count === undefined ? CHUNK : Math.min(CHUNK, count - produced);
    let ok = true;
    const events: FeedEvent[] = [];
    for (let i = 0; i < n; i++) simulator.nextInto(now, events);
    for (const e of events) if (!target.push(e.topic, e.tick)) ok = false;
    produced += n;
    if (count !== undefined && produced >= count) return 'count';
    if (ok) await yieldToLoop();
    else await untilReady(target, signal);
  }
}

export interface ReplayRunOptions extends Limits {
  path: string;
  target: TickTarget;
  /** Recorded gaps are divided by this; 0 = no waiting. */
  speed: number;
  /** Start again at the end of the file (until a limit or a signal). */
  loop: boolean;
  /** Publish the recorded ts instead of rewriting it to the replay time. */
  keepTs: boolean;
  /** Called for each bad line of the first pass. */
  onBadLine?: (e: ReplayError) => void;
}

export interface ReplayResult {
  reason: StopReason;
  /** Ticks pushed. */
  ticks: number;
  /** Bad lines in the file (counted once, however many passes). */
  badLines: number;
  /** Passes started. */
  passes: number;
}

/** Replays a recorded NDJSON/CSV file into `target` (see replay.ts for formats and timing). */
export async function runReplay(opts: ReplayRunOptions): Promise<ReplayResult> {
  const { target, count, durationMs, signal } = opts;
  const format = formatOf(opts.path);
  const clock = new ReplayClock(opts.speed);
  const t0 = Date.now();
  let ticks = 0;
  let badLines = 0;
  let passes = 0;
  const result = (reason: StopReason): ReplayResult => ({ reason, ticks, badLines, passes });

  for (;;) {
    passes++;
    clock.startPass();
    const parse = createLineParser(format);
    let passTicks = 0;
    for await (const { text, line } of readLines(opts.path)) {
      const r = parse(text, line);
      if (r === null) continue;
      if (isReplayError(r)) {
        if (passes === 1) {
          badLines++;
          opts.onBadLine?.(r);
        }
        continue;
      }
      if (signal?.aborted) return result('signal');
      let now = Date.now();
      if (durationMs !== undefined && now - t0 >= durationMs) return result('duration');
      const due = clock.dueAt(r.tick.ts, now);
      if (due - now >= 1) {
        await sleep(due - now, signal);
        if (signal?.aborted) return result('signal');
        now = Date.now();
      }
      const tick = opts.keepTs ? r.tick : { ...r.tick, ts: clock.rewrite(r.tick.ts, now) };
      const ok = target.push(r.topic, tick);
      ticks++;
      passTicks++;
      if (count !== undefined && ticks >= count) return result('count');
      if (!ok) await untilReady(target, signal);
      else if (passTicks % CHUNK === 0) await yieldToLoop();
    }
    if (passTicks === 0) return result('empty');
    if (!opts.loop) return result('end');
  }
}

/**
 * The lines of a file with 1-based numbers, streamed: the stream's async iterator pulls chunks
 * only as fast as they are consumed, so a large file never sits in memory.
 */
async function* readLines(path: string): AsyncGenerator<{ text: string; line: number }> {
  let line = 0;
  let rest = '';
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 256 * 1024 })) {
    const parts = (rest + (chunk as string)).split('\n');
    rest = parts.pop()!;
    for (const text of parts) yield { text, line: ++line };
  }
  if (rest !== '') yield { text: rest, line: line + 1 };
}
