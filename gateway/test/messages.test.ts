import { describe, expect, it } from 'vitest';
import { validateClientMessage } from '../../protocol/src/messages.js';
import { isValidTopic } from '../../protocol/src/topics.js';

const v = (x: unknown) => validateClientMessage(x, 3);

describe('client message validation', () => {
  it('accepts the three ops', () => {
    expect(v({ op: 'sub', id: 1, topics: ['trade.A'] })).toEqual({ op: 'sub', id: 1, topics: ['trade.A'] });
    expect(v({ op: 'unsub', id: -2, topics: ['x'] })).toEqual({ op: 'unsub', id: -2, topics: ['x'] });
    expect(v({ op: 'ping', id: 0, extra: true })).toEqual({ op: 'ping', id: 0 });
  });

  it('answers each kind of bad input with its code, keeping the id when usable', () => {
    expect(v([1, 2])).toMatchObject({ code: 'bad_frame' });
    expect(v('sub')).toMatchObject({ code: 'bad_frame' });
    expect(v(null)).toMatchObject({ code: 'bad_frame' });
    expect(v({ id: 1 })).toEqual({ code: 'bad_request', msg: expect.any(String), id: 1 });
    expect(v({ op: 'subscribe', id: 9 })).toEqual({ code: 'unknown_op', msg: expect.stringContaining('subscribe'), id: 9 });
    expect(v({ op: 'ping' })).toMatchObject({ code: 'bad_request' });
    expect(v({ op: 'ping', id: 1.5 })).toMatchObject({ code: 'bad_request' });
    expect(v({ op: 'ping', id: '1' })).toMatchObject({ code: 'bad_request' });
    expect(v({ op: 'sub', id: 2 })).toEqual({ code: 'bad_request', msg: expect.any(String), id: 2 });
    expect(v({ op: 'sub', id: 2, topics: [] })).toMatchObject({ code: 'bad_request', id: 2 });
    expect(v({ op: 'sub', id: 2, topics: 'trade.A' })).toMatchObject({ code: 'bad_request', id: 2 });
    expect(v({ op: 'sub', id: 2, topics: ['trade.A', 5] })).toMatchObject({ code: 'bad_request', id: 2 });
    expect(v({ op: 'sub', id: 2, topics: ['a', 'b', 'c', 'd'] })).toMatchObject({ code: 'too_many_topics', id: 2 });
  });

  it('accepts since entries with an upstream position (src and off together) and refuses half or malformed ones', () => {
    const sub = (e: unknown) => validateClientMessage({ op: 'sub', id: 4, topics: ['trade.A'], since: { 'trade.A': e } }, 3);
    expect(sub({ epoch: 'E', seq: 3, src: 'c/ticks/0', off: 42 })).toEqual({
      op: 'sub',
      id: 4,
      topics: ['trade.A'],
      since: { 'trade.A': { epoch: 'E', seq: 3, src: 'c/ticks/0', off: 42 } },
    });
    expect(sub({ epoch: 'E', seq: 3, src: null, off: null })).toEqual({
      op: 'sub',
      id: 4,
      topics: ['trade.A'],
      since: { 'trade.A': { epoch: 'E', seq: 3 } },
    });
    for (const bad of [
      { src: 'c/ticks/0' },
      { off: 1 },
      { src: '', off: 1 },
      { src: 'x', off: -1 },
      { src: 'x', off: 1.5 },
      { src: 5, off: 1 },
      { src: 'x'.repeat(513), off: 1 },
    ]) {
      expect(sub({ epoch: 'E', seq: 3, ...bad }), JSON.stringify(bad)).toEqual({
        code: 'bad_request',
        id: 4,
        msg: expect.stringContaining('"src"'),
      });
    }
  });

  it('does not read inherited fields', () => {
    const proto = { op: 'ping', id: 1 };
    expect(v(Object.create(proto))).toMatchObject({ code: 'bad_request' });
  });
});

describe('topic grammar', () => {
  it('accepts kind.SYMBOL and rejects everything else', () => {
    for (const t of ['trade.BTC-USD', 'quote.AAPL', 'quote.EUR-USD', 'trade.X', 'trade.' + 'A'.repeat(32), 'trade.BRK_B'])
      expect(isValidTopic(t), t).toBe(true);
    for (const t of [
      'trade.btc-usd',
      'level3.AAPL',
      'trade.',
      'trade',
      '.AAPL',
      'trade.-X',
      'trade.A.B',
      'trade.' + 'A'.repeat(33),
      'trade.AAPL ',
      '',
      5,
      null,
    ])
      expect(isValidTopic(t), String(t)).toBe(false);
  });
});
