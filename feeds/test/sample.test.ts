import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseReplay } from '../src/replay.js';
import { generateSample, SAMPLE, toCsv, toNdjson } from '../src/sample.js';

const DATA = fileURLToPath(new URL('../data/', import.meta.url));
const read = (name: string) => readFileSync(DATA + name, 'utf8');

describe('feeds/data sample', () => {
  const events = generateSample();

  it('the committed files are what the generator produces (node dist/feeds/src/sample.js rewrites them)', () => {
    expect(read(SAMPLE.files.ndjson)).toBe(toNdjson(events));
    expect(read(SAMPLE.files.csv)).toBe(toCsv(events));
  });

  it('is a few hundred valid ticks over ~30 s of four symbols, the same in both formats', () => {
    const nd = parseReplay(read(SAMPLE.files.ndjson), 'ndjson');
    const csv = parseReplay(read(SAMPLE.files.csv), 'csv');
    expect(nd.errors).toEqual([]);
    expect(csv.errors).toEqual([]);
    expect(nd.records.length).toBeGreaterThan(300);
    expect(nd.records.length).toBeLessThan(800);
    expect(csv.records.map((r) => [r.topic, r.tick])).toEqual(nd.records.map((r) => [r.topic, r.tick]));
    const ts = nd.records.map((r) => r.tick.ts);
    const span = ts.at(-1)! - ts[0]!;
    expect(span).toBeGreaterThan(25_000);
    expect(span).toBeLessThanOrEqual(30_000);
    for (let i = 1; i < ts.length; i++) expect(ts[i]!).toBeGreaterThanOrEqual(ts[i - 1]!);
    const topics = new Set(nd.records.map((r) => r.topic));
    for (const s of SAMPLE.symbols.split(',')) {
      expect(topics).toContain(`trade.${s}`);
      expect(topics).toContain(`quote.${s}`);
    }
  });
});
