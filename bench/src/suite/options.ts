/** Command-line options of the suite (run.ts), apart so tests can import them without running it. */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from './proc.js';
import type { SuiteOptions } from './types.js';

/** "10s" → 10, "30m" → 1800, "2h" → 7200, "15" → 15. */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw new Error(`bad duration ${JSON.stringify(s)} (use 10s, 30m, 2h or a number of seconds)`);
  const v = Number(m[1]);
  return m[2] === 'ms' ? v / 1000 : m[2] === 'm' ? v * 60 : m[2] === 'h' ? v * 3600 : v;
}

/**
 * Where a run's files go: an unrecorded run stays out of the tracked tree (ignored by git), so
 * running the suite never dirties a checkout; `--record` writes next to the committed runs.
 */
export const LOCAL_OUT = `${ROOT}bench/results/local`;
export const RECORD_OUT = `${ROOT}bench/results`;

export interface Cli {
  opts: SuiteOptions;
  out: string;
  list: boolean;
  help: boolean;
  readme?: string;
  render?: string;
}

export function parseCli(argv: string[]): Cli {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      clients: { type: 'string' },
      topics: { type: 'string' },
      rate: { type: 'string' },
      'max-other-cpu': { type: 'string' },
      duration: { type: 'string' },
      only: { type: 'string' },
      skip: { type: 'string' },
      readme: { type: 'string' },
      render: { type: 'string' },
      out: { type: 'string' },
      record: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.record && values.out !== undefined)
    throw new Error('--record and --out contradict each other (--record is --out bench/results)');
  const int = (name: string, v: string | undefined, min: number): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    return n;
  };
  const list = (v: string | undefined) =>
    v
      ? v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : [];
  const opts: SuiteOptions = { quick: values.quick === true, only: list(values.only) };
  if (values.skip) opts.skip = list(values.skip);
  const clients = int('clients', values.clients, 1);
  const topics = int('topics', values.topics, 1);
  const rate = values.rate === undefined ? undefined : Number(values.rate);
  if (rate !== undefined && !(Number.isFinite(rate) && rate > 0))
    throw new Error(`--rate must be a number > 0, got ${JSON.stringify(values.rate)}`);
  const maxOther = values['max-other-cpu'] === undefined ? undefined : Number(values['max-other-cpu']);
  if (maxOther !== undefined && !(Number.isFinite(maxOther) && maxOther >= 0)) {
    throw new Error(`--max-other-cpu must be a number >= 0, got ${JSON.stringify(values['max-other-cpu'])}`);
  }
  if (maxOther !== undefined) opts.maxOtherCpu = maxOther;
  if (clients !== undefined) opts.clients = clients;
  if (topics !== undefined) opts.topics = topics;
  if (rate !== undefined) opts.rate = rate;
  if (values.duration !== undefined) {
    const d = parseDuration(values.duration);
    if (!(d > 0)) throw new Error('--duration must be > 0');
    // One value for both: a window per run, and the length of the soak scenario.
    opts.durationSec = d;
    opts.soakSec = d;
  }
  return {
    opts,
    out: resolve(values.out ?? (values.record ? RECORD_OUT : LOCAL_OUT)),
    list: values.list === true,
    help: values.help === true,
    ...(values.readme ? { readme: resolve(values.readme) } : {}),
    ...(values.render ? { render: resolve(values.render) } : {}),
  };
}
