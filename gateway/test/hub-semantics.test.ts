import { describe, expect, it } from 'vitest';
import { Hub, type HubOptions, type HubSubscriber, type TopicSemantics } from '../src/hub/hub.js';
import { CODECS } from '../src/codecs.js';
import type { QuoteTick } from '../../protocol/src/ticks.js';

/**
 * HubOptions.semantics: the hub serves snapshot `last` with throttle `latest`, and `fold` with
 * `merge` for kinds that have a fold adapter (hub/fold.ts: order books); any other combination is
 * refused with a clear error instead of being served as a last value.
 */
const quote = (i: number): QuoteTick => ({ ts: 1_700_000_000_000 + i, bid: 10 + i, bsz: 2, ask: 11 + i, asz: 3 });
const OPTS = { epoch: 'E1', codecs: CODECS, maxTicksPerFrame: 100, historyMinWindowMs: 30_000, historyMaxAgeMs: 60_000 };
const BUDGET = { historyBudgetBytes: 1 << 30 };
const newHub = (semantics?: HubOptions['semantics']) => new Hub<HubSubscriber>({ ...OPTS, ...BUDGET, semantics });
const only =
  (prefix: string, s: TopicSemantics): HubOptions['semantics'] =>
  (topic) =>
    topic.startsWith(prefix) ? s : { snapshot: 'last', throttle: 'latest' };

describe('hub topic semantics', () => {
  it('defaults to last/latest: a snap carries the newest tick, a view the latest', () => {
    const hub = newHub();
    hub.publish('quote.A', quote(1));
    hub.publish('quote.A', quote(2));
    hub.flush(() => undefined, 0);
    const r = hub.subscribe({ codec: 0 }, 'quote.A@100ms');
    expect(r.kind).toBe('frames');
  });

  it('refuses snapshot fold for a kind without a fold adapter, when the topic is created (publish) and when a client subscribes', () => {
    const hub = newHub(only('quote.B', { snapshot: 'fold', throttle: 'merge' }));
    expect(() => hub.publish('quote.B', quote(1))).toThrow(/quote\.B: snapshot semantics 'fold' is not supported for kind quote/);
    expect(() => hub.subscribe({ codec: 0 }, 'quote.B')).toThrow(/snapshot semantics 'fold'/);
    expect(hub.publish('quote.A', quote(1))).toBe(1);
    expect(hub.subscribe({ codec: 0 }, 'quote.A').kind).toBe('frames');
  });

  it('refuses throttle merge without snapshot fold when a client subscribes to a view, and only then', () => {
    const hub = newHub(only('quote.B', { snapshot: 'last', throttle: 'merge' }));
    hub.publish('quote.B', quote(1));
    hub.flush(() => undefined, 0);
    expect(hub.subscribe({ codec: 0 }, 'quote.B').kind).toBe('frames');
    expect(() => hub.subscribe({ codec: 0 }, 'quote.B@100ms')).toThrow(/quote\.B: throttle semantics 'merge' needs snapshot 'fold'/);
    expect(hub.subscriptions).toBe(1);
  });

  it('serves a book topic as fold/merge, and refuses a fold topic whose views would send the latest update only', () => {
    const change = { ts: 1, b: [[10, 1]], a: [[11, 2]], cs: 0 };
    const merge = newHub(only('book.', { snapshot: 'fold', throttle: 'merge' }));
    merge.publish('book.X', change);
    merge.flush(() => undefined, 0);
    expect(merge.subscribe({ codec: 0 }, 'book.X@100ms').kind).toBe('frames');
    const latest = newHub(only('book.', { snapshot: 'fold', throttle: 'latest' }));
    latest.publish('book.X', change);
    latest.flush(() => undefined, 0);
    expect(latest.subscribe({ codec: 0 }, 'book.X').kind).toBe('frames');
    expect(() => latest.subscribe({ codec: 0 }, 'book.X@100ms')).toThrow(
      /book\.X: throttle semantics 'latest' is not supported on a fold topic/,
    );
  });

  it('tells a transport where a subscriber stands (stateOf): awaiting, then live or direct once its snap went out', () => {
    const hub = newHub();
    const via = { codec: 0, viaTopic: true };
    const plain = { codec: 0 };
    hub.publish('quote.C', quote(0));
    hub.subscribe(via, 'quote.C');
    expect(hub.stateOf(via, 'quote.C')).toBe('live');
    hub.subscribe(via, 'quote.C@100ms');
    expect(hub.stateOf(via, 'quote.C@100ms')).toBe('live');
    expect(hub.stateOf(plain, 'quote.C')).toBeUndefined();
    hub.upstreamReset(['quote.C']);
    expect(hub.stateOf(via, 'quote.C')).toBe('resync');
    hub.flush(() => undefined, 1);
    expect(hub.stateOf(via, 'quote.C')).toBe('live');
    hub.subscribe(plain, 'quote.D');
    expect(hub.stateOf(plain, 'quote.D')).toBeUndefined();
    hub.publish('quote.D', quote(1));
    expect(hub.stateOf(plain, 'quote.D')).toBe('awaiting');
    hub.flush(() => undefined, 2);
    expect(hub.stateOf(plain, 'quote.D')).toBe('direct');
    // From seq 0 of this epoch on a topic with no data: subscribe answers with (no) frames, so live already.
    expect(hub.subscribe(via, 'quote.E', { epoch: hub.epoch, seq: 0 }).kind).toBe('frames');
    expect(hub.stateOf(via, 'quote.E')).toBe('live');
    hub.publish('quote.E', quote(2));
    expect(hub.stateOf(via, 'quote.E')).toBe('live');
  });
});
