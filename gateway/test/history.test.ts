import { describe, expect, it } from 'vitest';
import { HistoryStore } from '../src/hub/history.js';
import type { QuoteTick, TradeTick } from '../../protocol/src/ticks.js';

const trade = (i: number): TradeTick => ({ ts: 1_700_000_000_000 + i, px: 100 + i / 7, qty: 0.001 * i, side: i % 2 ? 'b' : 's' });
const quote = (i: number): QuoteTick => ({ ts: 1_700_000_000_000 + i, bid: 10 + i / 3, bsz: 2.5, ask: 11 + i / 3, asz: 3 });
const GiB = 1024 ** 3;

describe('History (one topic)', () => {
  it('replays exactly what was appended: every field of trades, quotes and free-form payloads, with arrival times and offsets', () => {
    const store = new HistoryStore({ minWindowMs: 60_000, budgetBytes: GiB });
    const t = store.create('trade.A', 'trade');
    const q = store.create('quote.A', 'quote');
    const u = store.create('user.bob.fills', 'user');
    const payload = (i: number) => ({
      id: `o${i}`,
      px: i + 0.25,
      n: i,
      nested: { ok: i % 2 === 0, list: [1, 'two', null] },
      s: 'é✓'.repeat(i % 5),
    });
    for (let i = 1; i <= 5000; i++) {
      t.append(i, trade(i), 1000 + i, 10_000 + 2 * i);
      q.append(i, quote(i), 1000 + i);
      if (i <= 700) u.append(i, payload(i), 1000 + i);
    }
    expect([t.first, t.last, t.count]).toEqual([1, 5000, 5000]);
    expect(t.ticks(1, 5000)).toEqual(Array.from({ length: 5000 }, (_, i) => trade(i + 1)));
    expect(q.ticks(4000, 4100)).toEqual(Array.from({ length: 101 }, (_, i) => quote(4000 + i)));
    expect(u.ticks(1, 700)).toEqual(Array.from({ length: 700 }, (_, i) => payload(i + 1)));
    expect([t.atOf(1), t.atOf(4096), t.atOf(5000)]).toEqual([1001, 5096, 6000]);
    expect([t.offOf(1), t.offOf(3333), q.offOf(3333)]).toEqual([10_002, 16_666, -1]);
    // Trades 40 B, quotes 48 B (+8 with offsets) per tick, and the chunks' slack.
    expect(store.bytes).toBeLessThan(5000 * (48 + 48) * 1.5 + 700 * 200);
  });

  it('keeps at least the last minWindowMs: a chunk goes only once the tick after it is older than the window', () => {
    const store = new HistoryStore({ minWindowMs: 1000, budgetBytes: GiB });
    const h = store.create('trade.A', 'trade');
    // 100 ticks per second of hub clock for 10 s.
    for (let i = 1; i <= 1000; i++) h.append(i, trade(i), i * 10);
    const now = 10_000;
    // Every tick a client that left within the window needs: those that arrived after now - 1 s.
    expect(h.holds(901, 1000)).toBe(true);
    // The tick just before the window stays (a client that left at now - 1 s resumes after it)...
    expect(h.first).toBeLessThanOrEqual(900);
    expect(h.windowMs(now)).toBeGreaterThanOrEqual(1000);
    // ...but not much more than a chunk beyond it.
    expect(h.count).toBeLessThan(100 + 2 * 64);
    expect(store.trims.window).toBeGreaterThan(0);
    expect(store.trims.budget).toBe(0);
  });

  it('a sequence gap restarts the history: nothing from before the gap is served', () => {
    const store = new HistoryStore({ minWindowMs: 60_000, budgetBytes: GiB });
    const h = store.create('trade.A', 'trade');
    for (let i = 1; i <= 40; i++) h.append(i, trade(i), i);
    h.append(50, trade(50), 50);
    expect([h.first, h.last]).toEqual([50, 50]);
    expect(h.holds(40, 50)).toBe(false);
    expect(store.trims.gap).toBe(1);
    expect(store.bytes).toBeLessThan(1000);
  });

  it('round-trips through export/import (structured clone) with the same ticks, times and offsets', () => {
    const a = new HistoryStore({ minWindowMs: 60_000, budgetBytes: GiB });
    const h = a.create('quote.A', 'quote');
    for (let i = 1; i <= 300; i++) h.append(i, quote(i), i, i * 3);
    const b = new HistoryStore({ minWindowMs: 60_000, budgetBytes: GiB });
    const r = b.create('quote.A', 'quote');
    r.import(structuredClone(h.export()), 301);
    b.sortByAge();
    expect(r.ticks(1, 300)).toEqual(h.ticks(1, 300));
    expect([r.atOf(150), r.offOf(150), r.last]).toEqual([150, 450, 300]);
    expect(b.bytes).toBe(a.bytes);
    r.append(301, quote(301), 301, 903);
    expect(r.ticks(299, 301)).toEqual([quote(299), quote(300), quote(301)]);
    expect(() => b.create('quote.B', 'quote').import(h.export(), 400)).toThrow(/ends at 300/);
  });
});

describe('HistoryStore (the byte budget over all topics)', () => {
  it('accounts every chunk and frees them: bytes return to 0', () => {
    const store = new HistoryStore({ minWindowMs: 60_000, budgetBytes: GiB });
    const hs = ['trade.A', 'trade.B', 'trade.C'].map((n) => store.create(n, 'trade'));
    for (let i = 1; i <= 2000; i++) hs.forEach((h) => h.append(i, trade(i), i));
    const before = store.bytes;
    expect(before).toBeGreaterThan(3 * 2000 * 40);
    hs[0]!.restart(1);
    expect(store.bytes).toBeLessThan(before * 0.7);
    for (const h of hs) store.delete(h);
    expect(store.bytes).toBe(0);
  });

  it('when the budget binds, the topic holding the longest window gives way first, so windows even out', () => {
    // A hot topic (100 ticks/s) and a quiet one (1 tick/s), 200 s of hub clock, 40 KiB for both.
    const store = new HistoryStore({ minWindowMs: 1_000_000, budgetBytes: 40 * 1024 });
    const hot = store.create('trade.HOT', 'trade');
    const quiet = store.create('trade.QUIET', 'trade');
    let q = 0;
    for (let i = 1; i <= 20_000; i++) {
      const at = i * 10;
      hot.append(i, trade(i), at);
      if (i % 100 === 0) quiet.append(++q, trade(q), at);
      // Within the budget at all times, give or take the chunk being written.
      expect(store.bytes).toBeLessThanOrEqual(40 * 1024 + 4096 * 40 + 200);
    }
    const now = 200_000;
    expect(store.trims.budget).toBeGreaterThan(0);
    // The hot topic gave way in bytes: it holds far fewer seconds than the quiet one did not need to lose...
    expect(hot.windowMs(now)).toBeLessThan(20_000);
    // ...and the quiet topic's window was trimmed only down to the hot one's (the longest goes first).
    expect(quiet.windowMs(now)).toBeLessThanOrEqual(hot.windowMs(now) + 16 * 1000);
    expect(quiet.count).toBeGreaterThan(0);
    // What remains is whole and exact.
    expect(hot.ticks(hot.first, hot.last)).toEqual(Array.from({ length: hot.count }, (_, i) => trade(hot.first + i)));
  });

  it('the oldest chunk overall goes first, whichever topic wrote last', () => {
    const store = new HistoryStore({ minWindowMs: 1_000_000, budgetBytes: 2000 }); // 800 B per 16-trade chunk: two fit, three do not
    const a = store.create('trade.A', 'trade');
    const b = store.create('trade.B', 'trade');
    for (let i = 1; i <= 16; i++) a.append(i, trade(i), i); // one chunk of A, at 1..16
    for (let i = 1; i <= 16; i++) b.append(i, trade(i), 100 + i); // one chunk of B, later
    expect([a.count, b.count]).toEqual([16, 16]);
    b.append(17, trade(17), 200); // a second chunk of B: over budget, A's older chunk goes
    expect([a.count, b.count]).toEqual([0, 17]);
    expect(store.trims.budget).toBe(1);
  });
});

describe('history settings', () => {
  it('splits historyBudgetBytes over the copies (main thread + each worker), and refuses a window past historyMaxAgeSec', async () => {
    const { loadConfig } = await import('../src/config/load.js');
    const { hubOptions } = await import('../src/wiring.js');
    const one = hubOptions(loadConfig({ env: { TICKWIRE_WORKERS: '1', TICKWIRE_HISTORY_BUDGET_BYTES: '3000000' } }), 'E');
    expect(one).toMatchObject({ historyBudgetBytes: 3_000_000, historyMinWindowMs: 30_000 });
    const two = hubOptions(loadConfig({ env: { TICKWIRE_WORKERS: '2', TICKWIRE_HISTORY_BUDGET_BYTES: '3000000' } }), 'E');
    expect(two.historyBudgetBytes).toBe(1_000_000);
    expect(() => loadConfig({ env: { TICKWIRE_HISTORY_MIN_WINDOW_SEC: '200' } })).toThrow(
      /TICKWIRE_HISTORY_MIN_WINDOW_SEC[\s\S]*must not exceed historyMaxAgeSec/,
    );
    expect(() => loadConfig({ env: { TICKWIRE_HISTORY_SIZE: '1024' } })).toThrow(/Unknown setting TICKWIRE_HISTORY_SIZE/);
  });
});
