import { decode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { Hub, type HubSubscriber } from '../src/hub/hub.js';
import { CODECS } from '../src/codecs.js';
import type { TradeTick } from '../../protocol/src/ticks.js';

// The replica side of the hub (workers > 1): publishSequenced, exportState, importState.
type Sub = HubSubscriber & { got: any[]; raw: Uint8Array[] };
const sub = (): Sub => ({ codec: 0, got: [], raw: [] });
const deliver = (s: Sub, f: Uint8Array) => {
  s.raw.push(f);
  s.got.push(decode(f));
};
const take = (s: Sub, r: ReturnType<Hub<Sub>['subscribe']>) => {
  if (r.kind !== 'frames') throw new Error(`expected frames, got ${r.kind}`);
  for (const f of r.frames) deliver(s, f);
  return r;
};
const trade = (i: number): TradeTick => ({ ts: 1_700_000_000_000 + i, px: 100 + i, qty: 1, side: i % 2 ? 'b' : 's' });
// historyBudgetBytes 0 keeps only each topic's chunk being written (16 ticks at first): history that ends.
const newHub = (epoch = 'E1', historyBudgetBytes = 1 << 30, historyMaxAgeMs = 60_000) =>
  new Hub<Sub>({ epoch, codecs: CODECS, maxTicksPerFrame: 1000, historyMinWindowMs: 30_000, historyBudgetBytes, historyMaxAgeMs });
const seqs = (s: Sub) => s.got.map((m) => [m.op, m.seq, m.op === 'upd' ? m.data.length : 1, m.resync ?? false]);

describe('Hub replicas', () => {
  it("publishSequenced makes every replica send the same bytes with the primary's seqs", () => {
    const primary = newHub();
    const replicas = [newHub(), newHub()];
    const subs = replicas.map(() => sub());
    replicas.forEach((r, i) => expect(r.subscribe(subs[i]!, 'trade.A').kind).toBe('pending'));
    // The primary sequences; other topics interleave so per-topic seqs differ from a global count.
    for (let i = 1; i <= 7; i++) {
      const seq = primary.publish('trade.A', trade(i));
      primary.publish('trade.B', trade(100 + i));
      expect(seq).toBe(i);
      for (const r of replicas) expect(r.publishSequenced('trade.A', seq, trade(i))).toBe(true);
      if (i % 3 === 0) replicas.forEach((r) => r.flush(deliver, i));
    }
    replicas.forEach((r) => r.flush(deliver, 10));
    expect(seqs(subs[0]!)).toEqual([
      ['snap', 1, 1, false],
      ['upd', 2, 2, false],
      ['upd', 4, 3, false],
      ['upd', 7, 1, false],
    ]);
    expect(subs[1]!.raw).toEqual(subs[0]!.raw);
    expect(replicas[0]!.topicInfo()).toEqual([{ topic: 'trade.A', seq: 7, epoch: 'E1', ts: trade(7).ts }]);
  });

  it('ignores a tick it already has, so state and feed may overlap', () => {
    const r = newHub();
    const s = sub();
    for (let i = 1; i <= 3; i++) r.publishSequenced('trade.A', i, trade(i));
    r.flush(deliver, 1);
    take(s, r.subscribe(s, 'trade.A'));
    expect(r.publishSequenced('trade.A', 2, trade(2))).toBe(false);
    expect(r.publishSequenced('trade.A', 3, trade(3))).toBe(false);
    expect(r.publishSequenced('trade.A', 4, trade(4))).toBe(true);
    r.flush(deliver, 2);
    expect(seqs(s)).toEqual([
      ['snap', 3, 1, false],
      ['upd', 4, 1, false],
    ]);
    expect(r.stats.ticksIn).toBe(4);
  });

  it('a gap in the feed becomes a snap flagged resync, never a silent jump, and resume does not reach across it', () => {
    const r = newHub();
    const s = sub();
    for (let i = 1; i <= 3; i++) r.publishSequenced('trade.A', i, trade(i));
    r.flush(deliver, 1);
    take(s, r.subscribe(s, 'trade.A'));
    r.publishSequenced('trade.A', 4, trade(4)); // pending when the gap arrives
    r.publishSequenced('trade.A', 9, trade(9));
    r.publishSequenced('trade.A', 10, trade(10));
    r.flush(deliver, 2);
    expect(seqs(s)).toEqual([
      ['snap', 3, 1, false],
      ['snap', 10, 1, true],
    ]);
    expect(s.got[1].data).toEqual(trade(10));
    r.publishSequenced('trade.A', 11, trade(11));
    r.flush(deliver, 3);
    expect(seqs(s).at(-1)).toEqual(['upd', 11, 1, false]);
    // From seq 9 on the ring is whole again; from before the gap it is not.
    const after = sub();
    expect(take(after, r.subscribe(after, 'trade.A', { epoch: 'E1', seq: 9 })).resync).toBe(false);
    expect(seqs(after)).toEqual([['upd', 10, 2, false]]);
    const before = sub();
    expect(take(before, r.subscribe(before, 'trade.A', { epoch: 'E1', seq: 3 })).resync).toBe(true);
  });

  it('importState gives a fresh replica the same snaps, topic list and resumes as the exporting hub', () => {
    const primary = newHub('E1', 0);
    primary.publish('trade.B', trade(50)); // its history gives way to trade.A's newest chunk
    for (let i = 1; i <= 20; i++) primary.publish('trade.A', trade(i));
    primary.flush(() => {}, 1000);
    const state = primary.exportState();
    expect(state.topics.find((t) => t.topic === 'trade.A')).toMatchObject({ seq: 20, last: trade(20) });
    // Within its budget the primary kept the chunk being written: seq 17..20.
    expect(state.topics.find((t) => t.topic === 'trade.A')!.history.chunks.map((c) => [c.first, c.n])).toEqual([[17, 4]]);

    // The replica may get its state as a structured clone: a plain-data round trip must do.
    const replica = newHub('E1');
    replica.importState(structuredClone(state));
    expect(replica.topicInfo()).toEqual(primary.topicInfo());
    const [a, b] = [sub(), sub()];
    take(a, primary.subscribe(a, 'trade.A'));
    take(b, replica.subscribe(b, 'trade.A'));
    expect(b.raw).toEqual(a.raw);

    // Resume inside the exported history: replayed exactly; before it: resync.
    const resumed = sub();
    expect(take(resumed, replica.subscribe(resumed, 'trade.A', { epoch: 'E1', seq: 17 })).resync).toBe(false);
    expect(resumed.got).toEqual([{ op: 'upd', topic: 'trade.A', seq: 18, data: [18, 19, 20].map(trade) }]);
    const tooOld = sub();
    expect(take(tooOld, replica.subscribe(tooOld, 'trade.A', { epoch: 'E1', seq: 15 })).resync).toBe(true);

    // The feed continues where the state ends; the overlap is skipped.
    expect(replica.publishSequenced('trade.A', 20, trade(20))).toBe(false);
    replica.publishSequenced('trade.A', 21, trade(21));
    replica.flush(deliver, 1001);
    expect(seqs(b)).toEqual([
      ['snap', 20, 1, false],
      ['upd', 21, 1, false],
    ]);
  });

  it("keeps the ticks' ages, so resume refuses history that was already too old", () => {
    const primary = newHub('E1', undefined, 1000);
    primary.flush(() => {}, 0);
    for (let i = 1; i <= 3; i++) primary.publish('trade.A', trade(i));
    primary.flush(() => {}, 5000);
    primary.publish('trade.A', trade(4));
    const replica = newHub('E1', undefined, 1000);
    replica.importState(primary.exportState());
    replica.flush(deliver, 5500);
    const old = sub();
    expect(take(old, replica.subscribe(old, 'trade.A', { epoch: 'E1', seq: 1 })).resync).toBe(true);
    const recent = sub();
    expect(take(recent, replica.subscribe(recent, 'trade.A', { epoch: 'E1', seq: 3 })).resync).toBe(false);
    expect(recent.got).toEqual([{ op: 'upd', topic: 'trade.A', seq: 4, data: [trade(4)] }]);
  });

  it("takes the exporter's clock with its state: a tick fed before the replica's first flush is as young as it is", () => {
    const primary = newHub('E1', undefined, 1000);
    primary.flush(() => {}, 50_000);
    for (let i = 1; i <= 3; i++) primary.publish('trade.A', trade(i));
    const replica = newHub('E1', undefined, 1000);
    replica.importState(structuredClone(primary.exportState()));
    // Fed before the replica ever flushed: its arrival must not read as time 0 (older than any age limit).
    replica.publishSequenced('trade.A', 4, trade(4));
    replica.flush(deliver, 50_100);
    const s = sub();
    expect(take(s, replica.subscribe(s, 'trade.A', { epoch: 'E1', seq: 3 })).resync).toBe(false);
    expect(s.got).toEqual([{ op: 'upd', topic: 'trade.A', seq: 4, data: [trade(4)] }]);
    const windows = replica.historyWindows();
    expect(windows).toEqual([{ topic: 'trade.A', ms: 100, ticks: 4 }]);
  });

  it('refuses state of another epoch, or into a topic that already has data', () => {
    const primary = newHub('E1');
    primary.publish('trade.A', trade(1));
    expect(() => newHub('E2').importState(primary.exportState())).toThrow(/epoch E1 imported into epoch E2/);
    const busy = newHub('E1');
    busy.publishSequenced('trade.A', 1, trade(1));
    expect(() => busy.importState(primary.exportState())).toThrow(/already has data/);
  });
});
