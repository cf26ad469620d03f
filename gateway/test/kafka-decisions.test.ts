import { logLevel, type KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RejectReason } from '../../protocol/src/record.js';
import { Liveness, replaceAfterMs, staleAfterMs } from '../src/sources/kafka-liveness.js';
import { gatewayLevel, kafkaLogCreator } from '../src/sources/kafka-log.js';
import { needsOffsetsByTime, startOffset, tpKey, warmReached } from '../src/sources/kafka-offsets.js';
import { RecordReader } from '../src/sources/kafka-records.js';
import { PartitionResets, wentBack } from '../src/sources/kafka-resets.js';
import { topologyChange } from '../src/sources/kafka-survey.js';
import type { TickSink } from '../src/sources/source.js';

/** The Kafka source's decisions, without a broker (the behaviour end to end: *.kafka.test.ts). */

type Line = [level: string, obj: Record<string, unknown>, msg?: string];
function fakeLog(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (obj: Record<string, unknown> | string, msg?: string) =>
    lines.push(typeof obj === 'string' ? [level, {}, obj] : [level, obj, msg]);
  const log = { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') } as unknown as Logger;
  return { log, lines };
}

describe('start offsets (warm start)', () => {
  const p = { partition: 0, low: 100, high: 1000 };

  it('a partition that existed when first looked at starts at the warm-start window, at most maxRecords back', () => {
    expect(startOffset(p, 1, new Map([[0, 900]]), 500)).toBe(900);
    expect(startOffset(p, 1, new Map([[0, 200]]), 500)).toBe(500); // the window holds more than maxRecords
    expect(startOffset(p, 1, new Map([[0, 50]]), 5000)).toBe(100); // never below the log start
  });

  it('with nothing in the window (or not asked) it starts at the end: no past records', () => {
    expect(startOffset(p, 1, new Map([[0, -1]]), 500)).toBe(1000);
    expect(startOffset(p, 1, new Map(), 500)).toBe(1000);
    expect(startOffset(p, 1, undefined, 500)).toBe(1000);
    expect(startOffset(p, undefined, undefined, 500)).toBe(1000);
  });

  it('a partition created after the first look is read from its earliest offset', () => {
    expect(startOffset({ partition: 2, low: 7, high: 1000 }, 2, new Map([[2, 900]]), 500)).toBe(7);
    expect(startOffset(p, 0, undefined, 500)).toBe(100); // the topic was missing at the first look
  });

  it('offsets by time are asked for only when some partition predates the first look', () => {
    expect(needsOffsetsByTime(undefined, 3)).toBe(true);
    expect(needsOffsetsByTime(2, 3)).toBe(true);
    expect(needsOffsetsByTime(3, 3)).toBe(false);
    expect(needsOffsetsByTime(0, 2)).toBe(true); // its partitions are new, but asking is harmless
  });

  it('the warm start is reached once every planned partition reached its end', () => {
    const target = new Map([
      [tpKey('t', 0), 10],
      [tpKey('t', 1), 0],
    ]);
    expect(warmReached(target, new Map([[tpKey('t', 0), 9]]))).toBe(false);
    expect(warmReached(target, new Map([[tpKey('t', 0), 10]]))).toBe(true);
    expect(warmReached(new Map(), new Map())).toBe(true);
  });
});

describe('offsets that went back (a topic deleted and recreated)', () => {
  it('only a log the instance holds a position in can go back', () => {
    expect(wentBack({ low: 5, high: 10 }, { low: 0, high: 0 }, undefined)).toBe(false);
  });

  it('an end below the position held, or a start or end below the last look, is a new log', () => {
    expect(wentBack(undefined, { low: 0, high: 3 }, 5)).toBe(true);
    expect(wentBack({ low: 0, high: 10 }, { low: 0, high: 8 }, 5)).toBe(true);
    expect(wentBack({ low: 4, high: 10 }, { low: 0, high: 12 }, 5)).toBe(true);
  });

  it('a log that only grew (or stayed) continues', () => {
    expect(wentBack(undefined, { low: 0, high: 5 }, 5)).toBe(false);
    expect(wentBack({ low: 0, high: 10 }, { low: 2, high: 10 }, 10)).toBe(false);
    expect(wentBack({ low: 0, high: 10 }, { low: 0, high: 15 }, 12)).toBe(false);
  });

  function resets(stopped = false) {
    const next = new Map([[tpKey('t', 0), 42]]);
    const reset = vi.fn<(topics: readonly string[]) => void>();
    const sink: TickSink = { publish: () => undefined, upstreamReset: reset };
    const seeks: [string, number][] = [];
    const { log, lines } = fakeLog();
    const r = new PartitionResets({ next, log, sink: () => sink, seekEarliest: (t, p) => seeks.push([t, p]), stopped: () => stopped });
    return { r, next, reset, seeks, lines };
  }

  it('observe compares with the ends of the last look', () => {
    const { r } = resets();
    expect(r.observe(tpKey('t', 0), { low: 0, high: 50 }, 42)).toBe(false);
    expect(r.observe(tpKey('t', 0), { low: 0, high: 45 }, 42)).toBe(true);
  });

  it('a reset re-reads the partition from its start and resets the tickwire topics published from it', () => {
    const { r, next, reset, seeks, lines } = resets();
    r.topicsOf(tpKey('t', 0)).add('trade.X');
    r.topicsOf(tpKey('t', 0)).add('quote.X');
    r.topicsOf(tpKey('t', 1)).add('trade.Y');
    expect(r.count(tpKey('t', 0))).toBeUndefined();
    r.reset('t', 0, { from: 'test' });
    expect(next.get(tpKey('t', 0))).toBe(0);
    expect(reset).toHaveBeenCalledExactlyOnceWith(['trade.X', 'quote.X']);
    expect(seeks).toEqual([['t', 0]]);
    expect(r.count(tpKey('t', 0))).toBe(1);
    expect(r.counts()).toEqual(new Map([[tpKey('t', 0), 1]]));
    expect(lines[0]?.[0]).toBe('warn');
    expect(lines[0]?.[1]).toMatchObject({ topic: 't', partition: 0, position: 42, from: 'test' });
    // The old log's ends are forgotten: the new log's first look is no decrease.
    expect(r.observe(tpKey('t', 0), { low: 0, high: 1 }, 0)).toBe(false);
    // Nothing published from it since: a second reset concerns no tickwire topic.
    r.reset('t', 0, { from: 'test' });
    expect(reset).toHaveBeenCalledTimes(1);
    expect(r.count(tpKey('t', 0))).toBe(2);
  });

  it('a stopped source resets nothing', () => {
    const { r, next, reset, seeks } = resets(true);
    r.topicsOf(tpKey('t', 0)).add('trade.X');
    r.reset('t', 0, { from: 'test' });
    expect(next.get(tpKey('t', 0))).toBe(42);
    expect(reset).not.toHaveBeenCalled();
    expect(seeks).toEqual([]);
  });
});

describe('topology survey', () => {
  it('a consumer follows the set of existing topics, in configured order', () => {
    expect(topologyChange(['a', 'b'], ['a', 'b'])).toBe('unchanged');
    expect(topologyChange(['a'], ['a', 'b'])).toBe('changed');
    expect(topologyChange(['a', 'b'], ['a'])).toBe('changed');
    expect(topologyChange([], ['a'])).toBe('changed');
    expect(topologyChange(['a'], [])).toBe('changed');
    expect(topologyChange([], [])).toBe('none');
  });
});

describe('liveness', () => {
  const opts = { staleMs: 3000, retryMaxMs: 2000, metadataRefreshMs: 5000 };
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  it('stale after staleMs, plus a survey interval when there is nothing to fetch from', () => {
    expect(staleAfterMs(opts, false)).toBe(3000);
    expect(staleAfterMs(opts, true)).toBe(8000);
    expect(replaceAfterMs(opts)).toBe(10_000);
    expect(replaceAfterMs({ ...opts, retryMaxMs: 30_000 })).toBe(90_000);
  });

  it('live once the warm start is complete and while fetches succeed; outages counted once each', () => {
    const stats = { outages: 0 };
    const replace = vi.fn<(why: string) => void>();
    const { log, lines } = fakeLog();
    const l = new Liveness(opts, stats, log, replace);
    l.fetched();
    expect(l.isLive(false)).toBe(false); // not planned yet
    const key = tpKey('t', 0);
    l.planned(new Map([[key, 5]]), new Map([[key, 2]]));
    expect(l.isLive(false)).toBe(false);
    l.checkWarm(new Map([[key, 5]]));
    expect(l.isLive(false)).toBe(true);
    l.watch(l.isLive(false));
    expect(lines.map((x) => x[2] ?? x[1])).toEqual(['kafka warm start complete', 'kafka source live']);
    vi.advanceTimersByTime(3000);
    expect(l.isLive(false)).toBe(false);
    expect(l.isLive(true)).toBe(true);
    l.watch(false);
    l.watch(false);
    expect(stats.outages).toBe(1);
    expect(replace).not.toHaveBeenCalled();
    vi.advanceTimersByTime(7001);
    l.watch(false);
    expect(replace).toHaveBeenCalledExactlyOnceWith('no successful fetch for 10001 ms');
    l.replaced();
    l.watch(false);
    expect(replace).toHaveBeenCalledTimes(1); // the new consumer gets its time too
  });
});

describe('records', () => {
  const trade = { ts: 1_790_000_000_000, px: 100.5, qty: 2, side: 'b' };
  const msg = (offset: number, key: string, value: unknown): KafkaMessage =>
    ({ offset: String(offset), key: Buffer.from(key), value: Buffer.from(JSON.stringify(value)), timestamp: '0' }) as KafkaMessage;

  it('publishes valid records with their position, counts and skips the rest, from `from` on', () => {
    const rejected = { bad_key: 0, bad_fields: 0 } as Record<RejectReason, number>;
    const { log, lines } = fakeLog();
    const stats = { accepted: 0, rejected };
    const reader = new RecordReader({ maxRecordBytes: 1024 }, stats, log);
    reader.cluster('c');
    const published: unknown[] = [];
    const sink: TickSink = { publish: (topic, tick, src, off) => published.push([topic, tick, src, off]) };
    const topics = new Set<string>();
    const messages = [
      msg(3, 'trade.A', trade), // handled before
      msg(4, 'trade.A', trade),
      msg(5, 'nope', trade),
      msg(6, 'bad', trade),
      msg(7, 'trade.B', {}),
    ];
    const next = reader.read(messages, 4, { sink, key: tpKey('t', 0), partition: 0, topics });
    expect(next).toBe(8);
    expect(published).toEqual([['trade.A', trade, 'c/t/0', 4]]);
    expect([...topics]).toEqual(['trade.A']);
    expect(rejected).toEqual({ bad_key: 2, bad_fields: 1 });
    // Every record read is either accepted or rejected; the one handled before is neither.
    expect(stats.accepted).toBe(1);
    // Logged at most once per second per reason, with how many were not.
    expect(lines.map(([, o]) => [o.reason, o.offset, o.suppressed])).toEqual([
      ['bad_key', 5, 0],
      ['bad_fields', 7, 0],
    ]);
  });
});

describe('kafkajs log', () => {
  it('keeps errors and warnings, the rest at debug, one structured line per entry', () => {
    expect([logLevel.ERROR, logLevel.WARN, logLevel.INFO, logLevel.DEBUG].map(gatewayLevel)).toEqual(['error', 'warn', 'debug', 'debug']);
    const { log, lines } = fakeLog();
    const entry = { namespace: 'Consumer', level: logLevel.WARN, label: 'WARN', log: { message: 'm', timestamp: 't', groupId: 'g' } };
    kafkaLogCreator(log)(logLevel.WARN)(entry);
    expect(lines).toEqual([['warn', { kafka: 'Consumer', timestamp: 't', groupId: 'g' }, 'm']]);
  });
});
