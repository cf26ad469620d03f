import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Tick } from '../../protocol/src/ticks.js';
import { formatOf, parseReplay, ReplayClock, splitCsv } from '../src/replay.js';
import { runReplay, type TickTarget } from '../src/run.js';
import { waitFor } from '../../gateway/test/support/wait.js';

/** Recorded times are epoch ms in the gateway's valid range (docs/ingest.md#valid-ranges). */
const T0 = 1_767_623_400_000;
const dir = mkdtempSync(join(tmpdir(), 'tickwire-replay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('formatOf', () => {
  it('tells NDJSON from CSV by extension, case-insensitively', () => {
    expect(formatOf('a/b/ticks.ndjson')).toBe('ndjson');
    expect(formatOf('ticks.JSONL')).toBe('ndjson');
    expect(formatOf('ticks.csv')).toBe('csv');
    expect(() => formatOf('ticks.json')).toThrow(/\.ndjson, \.jsonl or \.csv/);
    expect(() => formatOf('ticks')).toThrow();
  });
});

describe('NDJSON', () => {
  it('parses trades and quotes, keeping exactly the protocol fields', () => {
    const text = [
      '{"topic":"trade.BTC-USD","ts":1767623400000,"px":65000.5,"qty":0.01,"side":"b","venue":"x"}',
      '',
      '  {"topic":"quote.AAPL","ts":1767623400005,"bid":190,"bsz":100,"ask":190.01,"asz":200}  ',
      '',
    ].join('\n');
    const { records, errors } = parseReplay(text, 'ndjson');
    expect(errors).toEqual([]);
    expect(records).toEqual([
      { line: 1, topic: 'trade.BTC-USD', tick: { ts: 1767623400000, px: 65000.5, qty: 0.01, side: 'b' } },
      { line: 3, topic: 'quote.AAPL', tick: { ts: 1767623400005, bid: 190, bsz: 100, ask: 190.01, asz: 200 } },
    ]);
  });

  it('reports every bad line with its number and the reason, and keeps the good ones', () => {
    const lines = [
      /* 1 */ '{"topic":"trade.BTC-USD","ts":1767623400001,"px":1,"qty":1,"side":"b"}',
      /* 2 */ '{"topic":"trade.BTC-USD","ts":1767623400002,"px":1,"qty":1,',
      /* 3 */ '[1,2,3]',
      /* 4 */ '{"ts":1767623400003,"px":1,"qty":1,"side":"b"}',
      /* 5 */ '{"topic":"trade.btc-usd","ts":1767623400004,"px":1,"qty":1,"side":"b"}',
      /* 6 */ '{"topic":"trade.BTC-USD","px":1,"qty":1,"side":"b"}',
      /* 7 */ '{"topic":"trade.BTC-USD","ts":1767623400005,"px":"1","qty":1,"side":"b"}',
      /* 8 */ '{"topic":"trade.BTC-USD","ts":1767623400006,"px":1,"qty":1,"side":"buy"}',
      /* 9 */ '{"topic":"quote.BTC-USD","ts":1767623400007,"bid":1,"bsz":1,"ask":2}',
      /* 10 */ '{"topic":"quote.BTC-USD","ts":1767623400008,"bid":1,"bsz":1,"ask":2,"asz":1}',
      /* 11 */ `{"topic":"trade.BTC-USD","ts":1767623400009,"px":1,"qty":1,"side":"b","pad":"${'x'.repeat(70_000)}"}`,
    ];
    const { records, errors } = parseReplay(lines.join('\r\n') + '\r\n', 'ndjson');
    expect(records.map((r) => r.line)).toEqual([1, 10]);
    expect(errors.map((e) => e.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 11]);
    const byLine = new Map(errors.map((e) => [e.line, e.error]));
    expect(byLine.get(2)).toMatch(/invalid JSON/);
    expect(byLine.get(3)).toMatch(/not a JSON object/);
    expect(byLine.get(4)).toMatch(/missing "topic"/);
    expect(byLine.get(5)).toMatch(/bad_key/);
    expect(byLine.get(6)).toMatch(/missing ts/);
    expect(byLine.get(7)).toMatch(/bad_fields: trade.BTC-USD: px must be a number, got string/);
    expect(byLine.get(8)).toMatch(/side must be "b" or "s"/);
    expect(byLine.get(9)).toMatch(/asz must be a number, got nothing/);
    expect(byLine.get(11)).toMatch(/oversize/);
  });

  it('ignores a UTF-8 BOM on the first line', () => {
    const { records, errors } = parseReplay('\uFEFF{"topic":"trade.X","ts":1767623400001,"px":1,"qty":1,"side":"s"}\n', 'ndjson');
    expect(errors).toEqual([]);
    expect(records).toHaveLength(1);
  });
});

describe('book records', () => {
  it('NDJSON lines keyed book.* become book records, validated as the gateway does; a view key or a bad side is reported', () => {
    const text = [
      `{"topic":"book.BTC-USD","type":"snapshot","ts":${T0},"bids":[[64999.5,0.75]],"asks":[[65000,1.2]],"u":7}`,
      `{"topic":"book.BTC-USD","type":"delta","ts":${T0 + 1},"changes":[["b",64999.5,0],["a",65000.5,0.3]],"u":8,"pu":7}`,
      `{"topic":"book.BTC-USD:10","type":"delta","ts":${T0 + 2},"changes":[]}`,
      `{"topic":"book.BTC-USD","type":"delta","ts":${T0 + 3},"changes":[["x",1,1]]}`,
    ].join('\n');
    const { records, errors } = parseReplay(text, 'ndjson');
    expect(records).toEqual([
      { line: 1, topic: 'book.BTC-USD', tick: { type: 'snapshot', ts: T0, bids: [[64999.5, 0.75]], asks: [[65000, 1.2]], u: 7 } },
      {
        line: 2,
        topic: 'book.BTC-USD',
        tick: {
          type: 'delta',
          ts: T0 + 1,
          changes: [
            ['b', 64999.5, 0],
            ['a', 65000.5, 0.3],
          ],
          u: 8,
          pu: 7,
        },
      },
    ]);
    expect(errors.map((e) => [e.line, e.error.split(':')[0]])).toEqual([
      [3, 'bad_key'],
      [4, 'book_unknown_side'],
    ]);
  });

  it('a CSV row keyed book.* is reported (CSV has no nested levels)', () => {
    const { records, errors } = parseReplay(`topic,ts,type\nbook.X,${T0},snapshot\n`, 'csv');
    expect(records).toEqual([]);
    expect(errors).toHaveLength(1);
  });
});

describe('CSV', () => {
  const header = 'topic,ts,px,qty,side,bid,bsz,ask,asz';

  it('parses rows with empty cells for fields the kind lacks; columns in any order', () => {
    const text = [header, `trade.ETH-USD,${T0 + 1000},3400.5,0.25,s,,,,`, `quote.ETH-USD,${T0 + 1001},,,,3400.4,1.5,3400.6,2`, ''].join(
      '\n',
    );
    const { records, errors } = parseReplay(text, 'csv');
    expect(errors).toEqual([]);
    expect(records).toEqual([
      { line: 2, topic: 'trade.ETH-USD', tick: { ts: T0 + 1000, px: 3400.5, qty: 0.25, side: 's' } },
      { line: 3, topic: 'quote.ETH-USD', tick: { ts: T0 + 1001, bid: 3400.4, bsz: 1.5, ask: 3400.6, asz: 2 } },
    ]);
    const reordered = parseReplay(`side,qty,px,ts,topic\nb,1e-3,2.5E+1,${T0 + 5},trade.X\n`, 'csv');
    expect(reordered.records[0]!.tick).toEqual({ ts: T0 + 5, px: 25, qty: 0.001, side: 'b' });
  });

  it('reports bad rows with line numbers', () => {
    const text = [
      /* 1 */ header,
      /* 2 */ `trade.X,${T0 + 1},1,1,b,,,,`,
      /* 3 */ `trade.X,${T0 + 2},abc,1,b,,,,`,
      /* 4 */ `trade.X,${T0 + 3},1,1,b`,
      /* 5 */ '',
      /* 6 */ `quote.X,${T0 + 4},,,,1,1,,1`,
      /* 7 */ 'quote.X,,,,,1,1,2,1',
      /* 8 */ `quote.X,${T0 + 5},,,,NaN,1,2,1`,
      /* 9 */ `TRADE.X,${T0 + 6},1,1,b,,,,`,
      /* 10 */ `"trade.X,${T0 + 7},1,1,b,,,,`,
      /* 11 */ `quote.X,${T0 + 8},,,,1,1,2,1`,
    ].join('\n');
    const { records, errors } = parseReplay(text, 'csv');
    expect(records.map((r) => r.line)).toEqual([2, 11]);
    expect(errors.map((e) => `${e.line}: ${e.error}`)).toEqual([
      '3: bad_fields: trade.X: px must be a number, got string',
      '4: expected 9 cells (topic,ts,px,qty,side,bid,bsz,ask,asz), got 5',
      '6: bad_fields: quote.X: ask must be a number, got nothing',
      '7: quote.X: missing ts (replay needs a timestamp on every line)',
      '8: non_finite: quote.X: bid is NaN',
      '9: bad_key: key is not a topic: "TRADE.X"',
      '10: unterminated quoted CSV field (a record must fit on one line)',
    ]);
  });

  it('rejects a header without topic or ts, and then every row', () => {
    const { records, errors } = parseReplay('symbol,ts,px\ntrade.X,1,1\n', 'csv');
    expect(records).toEqual([]);
    expect(errors[0]).toEqual({ line: 1, error: expect.stringMatching(/CSV header has no topic column/) });
    expect(errors).toHaveLength(2); // the row is then read as another (bad) header
    expect(parseReplay('topic,ts,ts\n', 'csv').errors[0]!.error).toMatch(/repeats column "ts"/);
  });

  it('splits quoted fields', () => {
    expect(splitCsv('a,"b,c","d""e",,f')).toEqual(['a', 'b,c', 'd"e', '', 'f']);
    expect(splitCsv('a,')).toEqual(['a', '']);
    expect(splitCsv('')).toEqual(['']);
    expect(() => splitCsv('"a"b')).toThrow(/after a quoted CSV field/);
    const q = parseReplay(`"topic","ts","px","qty","side"\n"trade.X","${T0 + 1}","2","3","b"\n`, 'csv');
    expect(q.records[0]!.tick).toEqual({ ts: T0 + 1, px: 2, qty: 3, side: 'b' });
  });
});

describe('ReplayClock', () => {
  it('keeps recorded gaps divided by the speed, anchored at the first record', () => {
    const c = new ReplayClock(2);
    const w0 = 1_800_000_000_000;
    expect(c.dueAt(1000, w0)).toBe(w0); // anchors: recorded 1000 ↔ wall w0
    expect(c.dueAt(1500, w0 + 3)).toBe(w0 + 250);
    expect(c.dueAt(3000, w0 + 999)).toBe(w0 + 1000);
    expect(c.dueAt(900, w0 + 1200)).toBe(w0 - 50); // out of order: already due
    // The rewritten ts is the due time (rounded to ms), whatever the clock says when it is sent.
    expect(c.rewrite(1501, w0 + 400)).toBe(w0 + 251);
    expect(new ReplayClock(1).dueAt(5, 7)).toBe(7);
  });

  it('speed 1 reproduces the recorded spacing; 0.5 doubles it', () => {
    const one = new ReplayClock(1);
    const half = new ReplayClock(0.5);
    one.dueAt(100, 0);
    half.dueAt(100, 0);
    expect(one.dueAt(160, 0)).toBe(60);
    expect(half.dueAt(160, 0)).toBe(120);
  });

  it('speed 0 is due immediately and stamps the send time', () => {
    const c = new ReplayClock(0);
    expect(c.dueAt(1000, 5000)).toBe(5000);
    expect(c.dueAt(99_999, 5001)).toBe(5001);
    expect(c.rewrite(99_999, 5002)).toBe(5002);
  });

  it('a new pass re-anchors to the wall clock', () => {
    const c = new ReplayClock(1);
    c.dueAt(1000, 10_000);
    expect(c.dueAt(2000, 10_000)).toBe(11_000);
    c.startPass();
    expect(c.dueAt(1000, 11_000)).toBe(11_000);
    expect(c.dueAt(2000, 11_000)).toBe(12_000);
  });

  it('rejects negative or non-finite speeds', () => {
    expect(() => new ReplayClock(-1)).toThrow();
    expect(() => new ReplayClock(Infinity)).toThrow();
    expect(() => new ReplayClock(NaN)).toThrow();
  });
});

/** Records what was pushed and when; optionally full (backpressure) every `fullEvery` pushes. */
class RecordingTarget implements TickTarget {
  pushed: { topic: string; tick: Tick; at: number }[] = [];
  readyCalls = 0;
  constructor(private readonly fullEvery = 0) {}
  push(topic: string, tick: Tick): boolean {
    this.pushed.push({ topic, tick, at: Date.now() });
    return !(this.fullEvery && this.pushed.length % this.fullEvery === 0);
  }
  ready(): Promise<void> {
    this.readyCalls++;
    // A drain that takes a moment, as a real sink's does (a fake's behaviour, not a wait in the test).
    return new Promise((r) => setTimeout(r, 1));
  }
}

function writeTicks(name: string, tsList: number[]): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    tsList.map((ts, i) => JSON.stringify({ topic: i % 2 ? 'trade.A' : 'trade.B', ts: T0 + ts, px: 1 + i, qty: 1, side: 'b' })).join('\n') +
      '\nnot json\n',
  );
  return path;
}

describe('runReplay', () => {
  it('waits the recorded gaps / speed and rewrites ts to the due time', async () => {
    const path = writeTicks('gaps.ndjson', [1_000_000, 1_000_100, 1_000_100, 1_000_400]);
    const target = new RecordingTarget();
    const bad: number[] = [];
    const t0 = Date.now();
    const r = await runReplay({ path, target, speed: 2, loop: false, keepTs: false, onBadLine: (e) => bad.push(e.line) });
    expect(r).toEqual({ reason: 'end', ticks: 4, badLines: 1, passes: 1 });
    expect(bad).toEqual([5]);
    const ts = target.pushed.map((p) => p.tick.ts);
    const w0 = ts[0]!;
    expect(w0).toBeGreaterThanOrEqual(t0);
    expect(ts.map((t) => t - w0)).toEqual([0, 50, 50, 200]);
    // Sent no earlier than due (timers may fire a little late, never early).
    for (const p of target.pushed) expect(p.at).toBeGreaterThanOrEqual(p.tick.ts - 1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(199);
  });

  it('--keep-ts keeps the recorded ts; speed 0 does not wait; count stops early', async () => {
    const path = writeTicks('fast.ndjson', [1_000, 61_000, 121_000]);
    const target = new RecordingTarget();
    const t0 = Date.now();
    const r = await runReplay({ path, target, speed: 0, loop: false, keepTs: true });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(r.reason).toBe('end');
    expect(target.pushed.map((p) => p.tick.ts - T0)).toEqual([1_000, 61_000, 121_000]);

    const limited = new RecordingTarget();
    expect((await runReplay({ path, target: limited, speed: 0, loop: false, keepTs: true, count: 2 })).reason).toBe('count');
    expect(limited.pushed).toHaveLength(2);
  });

  it('--loop starts over with fresh, still increasing timestamps; bad lines are reported once', async () => {
    const path = writeTicks('loop.ndjson', [0, 10, 20]);
    const target = new RecordingTarget(2); // full every 2nd push: the loop must wait for ready()
    let bad = 0;
    const r = await runReplay({ path, target, speed: 0, loop: true, keepTs: false, count: 10, onBadLine: () => bad++ });
    expect(r).toEqual({ reason: 'count', ticks: 10, badLines: 1, passes: 4 });
    expect(bad).toBe(1);
    expect(target.readyCalls).toBe(4); // after pushes 2, 4, 6, 8; the 10th ends the run
    const ts = target.pushed.map((p) => p.tick.ts);
    for (let i = 1; i < ts.length; i++) expect(ts[i]!).toBeGreaterThanOrEqual(ts[i - 1]!);
  });

  it('stops on abort (even mid-wait) and on a file without valid ticks', async () => {
    const path = writeTicks('slow.ndjson', [0, 60_000]);
    const ac = new AbortController();
    const target = new RecordingTarget();
    const run = runReplay({ path, target, speed: 1, loop: false, keepTs: false, signal: ac.signal });
    // The first tick is out: the replay now waits 60 s for the second.
    await waitFor(() => target.pushed.length === 1, { what: 'the first tick pushed', timeoutMs: 10_000, intervalMs: 5 });
    const t0 = Date.now();
    ac.abort();
    const r = await run;
    expect(r.reason).toBe('signal');
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(target.pushed).toHaveLength(1);

    const empty = join(dir, 'empty.csv');
    writeFileSync(empty, 'topic,ts,px,qty,side\nnope,1,1,1,b\n');
    const e = await runReplay({ path: empty, target: new RecordingTarget(), speed: 0, loop: true, keepTs: false });
    expect(e).toEqual({ reason: 'empty', ticks: 0, badLines: 1, passes: 1 });
  });

  it('streams a file larger than one read chunk, line numbers intact', async () => {
    const path = join(dir, 'big.csv');
    const rows = ['topic,ts,px,qty,side'];
    for (let i = 0; i < 20_000; i++)
      rows.push(i === 15_000 ? 'trade.X,oops,1,1,b' : `trade.X,${T0 + i},${100 + (i % 50) / 100},1,${i % 2 ? 'b' : 's'}`);
    writeFileSync(path, rows.join('\n')); // no final newline
    const target = new RecordingTarget();
    const bad: string[] = [];
    const r = await runReplay({ path, target, speed: 0, loop: false, keepTs: true, onBadLine: (e) => bad.push(`${e.line}: ${e.error}`) });
    expect(r.ticks).toBe(19_999);
    expect(bad).toEqual(['15002: bad_fields: trade.X: ts must be a number, got string']);
    expect(target.pushed.at(-1)!.tick.ts).toBe(T0 + 19_999);
  });
});
