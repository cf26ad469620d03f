/**
 * A small parser for the Prometheus text exposition format (what the gateway's /metrics serves),
 * and counter rates between two scrapes. Enough for the operator page: `# HELP`/`# TYPE` lines
 * and blank lines are skipped, samples are `name{label="value",...} value [timestamp]`.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

function parseValue(s: string): number {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return s === 'NaN' ? NaN : Number(s);
}

/** Parses one sample line; undefined for comments, blank and malformed lines. */
export function parseLine(line: string): Sample | undefined {
  const t = line.trim();
  if (t === '' || t.startsWith('#')) return undefined;
  const name = NAME.exec(t)?.[0];
  if (!name) return undefined;
  let i = name.length;
  const labels: Record<string, string> = {};
  if (t[i] === '{') {
    i++;
    for (;;) {
      while (t[i] === ' ' || t[i] === ',') i++;
      if (t[i] === '}') {
        i++;
        break;
      }
      const key = NAME.exec(t.slice(i))?.[0];
      if (!key || t[i + key.length] !== '=' || t[i + key.length + 1] !== '"') return undefined;
      i += key.length + 2;
      let value = '';
      for (; i < t.length && t[i] !== '"'; i++) {
        if (t[i] === '\\') {
          i++;
          value += t[i] === 'n' ? '\n' : (t[i] ?? '');
        } else value += t[i];
      }
      if (t[i] !== '"') return undefined;
      i++;
      labels[key] = value;
    }
  }
  const [raw] = t.slice(i).trim().split(/\s+/); // an optional timestamp may follow
  if (raw === undefined || raw === '') return undefined;
  const value = parseValue(raw);
  return Number.isNaN(value) && raw !== 'NaN' ? undefined : { name, labels, value };
}

export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const s = parseLine(line);
    if (s) out.push(s);
  }
  return out;
}

/** One scrape: samples indexed by metric name. */
export class Scrape {
  private readonly byName = new Map<string, Sample[]>();

  constructor(
    samples: Sample[],
    /** When it was taken, in ms (any monotonic clock). */
    readonly at: number,
  ) {
    for (const s of samples) {
      const list = this.byName.get(s.name);
      if (list) list.push(s);
      else this.byName.set(s.name, [s]);
    }
  }

  static parse(text: string, at: number): Scrape {
    return new Scrape(parsePrometheus(text), at);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The sum of every sample of `name` (its only sample for an unlabelled metric); undefined when absent. */
  value(name: string): number | undefined {
    const list = this.byName.get(name);
    return list ? list.reduce((a, s) => a + s.value, 0) : undefined;
  }

  /** Values of `name` summed by one label. */
  byLabel(name: string, label: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of this.byName.get(name) ?? []) {
      const k = s.labels[label] ?? '';
      out.set(k, (out.get(k) ?? 0) + s.value);
    }
    return out;
  }
}

/** Per-second increase of a counter between two readings; a decrease is a reset (the gateway restarted). */
export function counterRate(prev: number | undefined, cur: number | undefined, seconds: number): number | undefined {
  if (prev === undefined || cur === undefined || !(seconds > 0)) return undefined;
  return (cur >= prev ? cur - prev : cur) / seconds;
}

/** Per-second rate of counter `name` between two scrapes. */
export function rate(prev: Scrape | undefined, cur: Scrape, name: string): number | undefined {
  return prev ? counterRate(prev.value(name), cur.value(name), (cur.at - prev.at) / 1000) : undefined;
}

/** Per-second rates of counter `name` by one label; labels absent from the previous scrape start from 0. */
export function ratesByLabel(prev: Scrape | undefined, cur: Scrape, name: string, label: string): Map<string, number | undefined> {
  const before = prev?.byLabel(name, label);
  const out = new Map<string, number | undefined>();
  for (const [k, v] of cur.byLabel(name, label))
    out.set(k, prev ? counterRate(before?.get(k) ?? 0, v, (cur.at - prev.at) / 1000) : undefined);
  return out;
}
