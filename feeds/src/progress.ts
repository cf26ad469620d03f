import type { SinkStats } from './kafka-sink.js';

/**
 * The live progress line of `tickwire-feed` on stderr: rewritten in place (\r) about four times a
 * second when stderr is a terminal, one plain line every 5 s otherwise (logs, CI). Other
 * messages go through say() so they never end up glued to a half-drawn progress line.
 */
export interface ProgressOptions {
  stream: NodeJS.WritableStream & { isTTY?: boolean };
  stats: () => SinkStats;
  /** Draw the progress line at all (false with --quiet). */
  enabled: boolean;
  /** Interval of plain lines when the stream is not a TTY, ms. Default 5000. */
  plainIntervalMs?: number;
}

const TTY_REDRAW_MS = 250;
/** Samples kept for the rate: one second's worth at the TTY redraw interval. */
const RATE_WINDOW_MS = 1000;

export class Progress {
  private readonly stream: ProgressOptions['stream'];
  private readonly tty: boolean;
  private readonly stats: () => SinkStats;
  private readonly enabled: boolean;
  private readonly plainIntervalMs: number;
  private timer: ReturnType<typeof setInterval> | undefined;
  private samples: { t: number; acked: number }[] = [];
  private drawn = false;
  private lastPlain = 0;
  private t0 = 0;

  constructor(opts: ProgressOptions) {
    this.stream = opts.stream;
    this.tty = opts.stream.isTTY === true;
    this.stats = opts.stats;
    this.enabled = opts.enabled;
    this.plainIntervalMs = opts.plainIntervalMs ?? 5000;
  }

  start(): void {
    this.t0 = performance.now();
    this.lastPlain = this.t0;
    if (!this.enabled || this.timer) return;
    this.timer = setInterval(() => this.tick(), TTY_REDRAW_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }

  /** Prints a message line (warnings, notes) without mangling the progress line. */
  say(msg: string): void {
    this.clear();
    this.stream.write(msg + '\n');
  }

  /** Acked ticks per second over about the last second. */
  rate(): number {
    const s = this.samples;
    if (s.length < 2) return 0;
    const first = s[0]!;
    const last = s[s.length - 1]!;
    return last.t > first.t ? ((last.acked - first.acked) * 1000) / (last.t - first.t) : 0;
  }

  line(now = performance.now()): string {
    const st = this.stats();
    const secs = (now - this.t0) / 1000;
    return (
      `tickwire-feed: sent ${st.sent}  acked ${st.acked}  ${Math.round(this.rate())}/s  ` +
      `failed ${st.failed}  errors ${st.errors}  in-flight ${st.inFlight}  ${secs.toFixed(0)}s`
    );
  }

  private tick(): void {
    const now = performance.now();
    this.samples.push({ t: now, acked: this.stats().acked });
    while (this.samples.length > 2 && now - this.samples[1]!.t >= RATE_WINDOW_MS) this.samples.shift();
    if (this.tty) {
      this.stream.write('\r' + this.line(now) + '\x1b[K');
      this.drawn = true;
    } else if (now - this.lastPlain >= this.plainIntervalMs - TTY_REDRAW_MS / 2) {
      this.lastPlain = now;
      this.stream.write(this.line(now) + '\n');
    }
  }

  private clear(): void {
    if (!this.drawn) return;
    this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}

export interface Summary {
  mode: 'sim' | 'replay';
  reason: string;
  stats: SinkStats;
  elapsedMs: number;
  /** Extra lines (replay: records, bad lines, passes). */
  extra?: [string, string | number][];
}

/** The end-of-run summary (stdout): plain numbers, one `name value` per line, easy to grep. */
export function summaryText(s: Summary): string {
  const secs = s.elapsedMs / 1000;
  const rows: [string, string | number][] = [
    ['sent', s.stats.sent],
    ['acked', s.stats.acked],
    ['failed', s.stats.failed],
    ...(s.extra ?? []),
    ['elapsed', `${secs.toFixed(2)} s`],
    ['rate', `${secs > 0 ? Math.round(s.stats.acked / secs) : 0} ticks/s (acked / elapsed)`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return `tickwire-feed ${s.mode}: stopped (${s.reason})\n` + rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n') + '\n';
}
