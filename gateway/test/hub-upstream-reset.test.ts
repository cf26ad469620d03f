import { decode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { Hub, type HubSubscriber } from '../src/hub/hub.js';
import { CODECS } from '../src/codecs.js';
import type { TradeTick } from '../../protocol/src/ticks.js';
import { startFlushLoop } from '../src/wiring.js';

type Sub = HubSubscriber & { got: any[] };
const sub = (): Sub => ({ codec: 0, got: [] });
const deliver = (s: Sub, f: Uint8Array) => s.got.push(decode(f));
const trade = (i: number): TradeTick => ({ ts: 1_700_000_000_000 + i, px: 100 + i, qty: 1, side: i % 2 ? 'b' : 's' });
const newHub = () =>
  new Hub<Sub>({
    epoch: 'E1',
    codecs: CODECS,
    maxTicksPerFrame: 1000,
    historyMinWindowMs: 30_000,
    historyBudgetBytes: 1 << 30,
    historyMaxAgeMs: 60_000,
  });
const SRC = 'cluster/ticks/0';

describe('Hub.upstreamReset (a Kafka topic recreated)', () => {
  it('through the flush loop: old ticks go out as upd, then a resync snap one seq on, then the new ticks; positions stop', () => {
    const hub = newHub();
    const s = sub();
    const flush = () => void hub.flush(deliver, 0);
    // An interval the test never reaches: every flush here is one the reset itself makes, or an explicit one.
    const loop = startFlushLoop(60_000, hub, flush);
    hub.publish('trade.A', trade(1), SRC, 10);
    hub.publish('trade.B', trade(1), SRC, 11);
    flush();
    hub.subscribe(s, 'trade.A');
    hub.subscribe(s, 'trade.B');
    loop.sink.publish('trade.A', trade(2), SRC, 12);
    loop.sink.upstreamReset!(['trade.A', 'trade.C']); // C never had data: nothing to reset
    loop.sink.publish('trade.A', trade(3), SRC, 0); // the new log starts again at offset 0
    loop.sink.publish('trade.B', trade(2), SRC, 1);
    flush();
    loop.stop();
    expect(s.got.filter((m) => m.topic === 'trade.A').map((m) => [m.op, m.seq, m.resync ?? false, m.off])).toEqual([
      ['upd', 2, false, 12],
      ['snap', 3, true, undefined],
      ['upd', 4, false, undefined],
    ]);
    // A topic not named by the reset goes on untouched.
    expect(s.got.filter((m) => m.topic === 'trade.B').map((m) => [m.op, m.seq])).toEqual([['upd', 2]]);
    expect(hub.topicInfo().map((t) => [t.topic, t.seq])).toEqual([
      ['trade.A', 4],
      ['trade.B', 2],
    ]);
    // Resume cannot reach back across the seam.
    const late = sub();
    const r = hub.subscribe(late, 'trade.A', { epoch: 'E1', seq: 2 });
    expect(r.kind === 'frames' && r.resync).toBe(true);
  });

  it('a replica that gets the same reset after the same ticks sends the same frames', () => {
    const primary = newHub();
    const replica = newHub();
    const s = sub();
    const seqOf = (topic: string, tick: TradeTick) => [topic, primary.publish(topic, tick, SRC, 0), tick] as const;
    replica.publishSequenced(...seqOf('trade.A', trade(1)));
    replica.flush(deliver, 0);
    replica.subscribe(s, 'trade.A');
    primary.upstreamReset(['trade.A']);
    replica.upstreamReset(['trade.A']);
    replica.flush(deliver, 1);
    replica.publishSequenced(...seqOf('trade.A', trade(2)));
    replica.flush(deliver, 2);
    expect(s.got.map((m) => [m.op, m.seq, m.resync ?? false])).toEqual([
      ['snap', 2, true],
      ['upd', 3, false],
    ]);
  });
});
