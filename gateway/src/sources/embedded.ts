import { Pacer } from '../../../feeds/src/pacer.js';
import { MarketSimulator } from '../../../feeds/src/simulator.js';
import { parseSymbols } from '../../../feeds/src/symbols.js';
import type { Source, TickSink } from './source.js';

export interface EmbeddedSourceOptions {
  rate: number;
  seed: number;
  symbols: string;
  burstiness: number;
  /** Write the simulated order books' records (default true). */
  books?: boolean;
  /** The pacer's tick interval in ms (default: the pacer's); the benchmark's fine pacing sets 1. */
  intervalMs?: number;
}

/**
 * The market simulator running in-process: the gateway works out of the box with no Kafka.
 * The simulator only produces well-formed ticks and book records on valid topics, so nothing is
 * re-validated; its book records go through the book engine (the sink) as Kafka's do.
 */
export class EmbeddedSource implements Source {
  readonly name = 'embedded';
  private pacer: Pacer | undefined;

  constructor(private readonly opts: EmbeddedSourceOptions) {
    parseSymbols(opts.symbols); // fail at construction (startup), not on the first tick
  }

  get live(): boolean {
    return this.pacer !== undefined;
  }

  async start(sink: TickSink): Promise<void> {
    const simulator = new MarketSimulator({
      seed: this.opts.seed,
      symbols: parseSymbols(this.opts.symbols),
      books: this.opts.books ?? true,
    });
    this.pacer = new Pacer({
      rate: this.opts.rate,
      ...(this.opts.intervalMs !== undefined ? { intervalMs: this.opts.intervalMs } : {}),
      burstiness: this.opts.burstiness,
      seed: this.opts.seed,
      simulator,
      emit: (events) => {
        for (const e of events) sink.publish(e.topic, e.tick);
      },
    });
    this.pacer.start();
  }

  async stop(): Promise<void> {
    this.pacer?.stop();
    this.pacer = undefined;
  }
}
