/**
 * What every baseline server shares: its command line, the market feed (the same simulator and
 * pacer as tickwire's embedded feed: feeds/src/simulator.ts + feeds/src/pacer.ts, same seed, same
 * symbols, `ts` stamped at generation), per-topic sequence numbers, the `/stats` counters and the
 * ready line on stdout.
 *
 * Command line: `--host 127.0.0.1 --port 0 --rate R --symbols A,B --seed 1 --burstiness 0.5`
 * (the defaults of tickwire's embedded feed, except the host). When listening, a baseline prints
 * one JSON line `{"port":N,...}` on stdout; SIGTERM/SIGINT stop it.
 */
import { parseArgs } from 'node:util';
import { Pacer } from '../../../../feeds/src/pacer.js';
import { MarketSimulator, type SimEvent } from '../../../../feeds/src/simulator.js';
import { DEFAULT_SYMBOLS as SIM_SYMBOLS, parseSymbols } from '../../../../feeds/src/symbols.js';

/** The simulator's instruments, as the `--symbols` default. */
export const DEFAULT_SYMBOLS = SIM_SYMBOLS.map((s) => s.symbol).join(',');

export interface BaselineArgs {
  host: string;
  port: number;
  rate: number;
  symbols: string;
  seed: number;
  burstiness: number;
  /** Extra flags of one baseline. */
  flags: Record<string, string | boolean | undefined>;
}

export function baselineArgs(extra: Record<string, { type: 'string' | 'boolean' }> = {}): BaselineArgs {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      rate: { type: 'string', default: '1000' },
      symbols: { type: 'string', default: DEFAULT_SYMBOLS },
      seed: { type: 'string', default: '1' },
      burstiness: { type: 'string', default: '0.5' },
      ...extra,
    },
    strict: true,
  });
  const n = (k: string) => {
    const v = Number(values[k as keyof typeof values]);
    if (!Number.isFinite(v)) throw new Error(`--${k} must be a number`);
    return v;
  };
  const flags: BaselineArgs['flags'] = {};
  for (const k of Object.keys(extra)) flags[k] = values[k as keyof typeof values];
  return {
    host: String(values.host),
    port: n('port'),
    rate: n('rate'),
    symbols: String(values.symbols),
    seed: n('seed'),
    burstiness: n('burstiness'),
    flags,
  };
}

/** Counters every baseline serves at `GET /stats` (JSON). */
export interface BaselineStats {
  /** Ticks generated per topic since start (the last seq of each topic). */
  ticksIn: Record<string, number>;
  /** Frames handed to the transport (one per subscriber per tick, or per publish for uWS). */
  framesOut: number;
  connections: number;
  /** Connections the baseline cut because their send buffer passed its safety cap. */
  cutSlow: number;
}

export class Feed {
  readonly seqs = new Map<string, number>();
  private readonly pacer: Pacer;

  /** `emit` gets each pacer batch, every event with its topic's next seq. */
  constructor(args: BaselineArgs, emit: (events: SimEvent[], seqs: number[]) => void) {
    const simulator = new MarketSimulator({ seed: args.seed, symbols: parseSymbols(args.symbols) });
    this.pacer = new Pacer({
      rate: args.rate,
      burstiness: args.burstiness,
      seed: args.seed,
      simulator,
      emit: (events) => {
        const seqs = new Array<number>(events.length);
        for (let i = 0; i < events.length; i++) {
          const t = (events[i] as SimEvent).topic;
          const s = (this.seqs.get(t) ?? 0) + 1;
          this.seqs.set(t, s);
          seqs[i] = s;
        }
        emit(events as SimEvent[], seqs); // a simulator without books: ticks only
      },
    });
  }

  start(): void {
    this.pacer.start();
  }

  stop(): void {
    this.pacer.stop();
  }

  ticksIn(): Record<string, number> {
    return Object.fromEntries(this.seqs);
  }
}

export function announce(port: number, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ port, ...extra })}\n`);
}

export function onSignals(stop: () => void): void {
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      try {
        stop();
      } finally {
        process.exit(0);
      }
    });
  }
}
