import { describe, expect, it } from 'vitest';
import { parsePublishBody } from '../src/transport/publish-body.js';

const LIMITS = { maxDepth: 32, maxBytes: 64 * 1024 };
const parse = (body: unknown) => parsePublishBody(body, LIMITS);
const OK = { topic: 'sys.announce', data: {} };
const deep = (n: number) => JSON.parse(`{"a":${'['.repeat(n)}1${']'.repeat(n)}}`) as unknown;

describe('POST /v1/publish body (zod schema)', () => {
  it('accepts one message or a list of them', () => {
    const one = { topic: 'sys.announce', data: { msg: 'hi' } };
    expect(parse(one)).toEqual({ ok: true, messages: [one] });
    const two = [
      { topic: 'user.bob.fills', data: { id: 1 } },
      { topic: 'sys.announce', data: {} },
    ];
    expect(parse({ messages: two })).toEqual({ ok: true, messages: two });
  });

  it.each([
    ['null', null, 'body must be an object'],
    ['an array', [1, 2], 'body must be an object'],
    ['a string', 'hello', 'body must be an object'],
    ['a number', 42, 'body must be an object'],
    ['an empty object', {}, 'topic is required'],
    ['a numeric topic', { topic: 7, data: {} }, 'topic must be a string'],
    ['a market topic', { topic: 'trade.BTC-USD', data: {} }, 'topic must be user.<sub>.<stream> or sys.announce'],
    ['no data', { topic: 'sys.announce' }, 'data is required'],
    ['null data', { topic: 'sys.announce', data: null }, 'data must be an object'],
    ['array data', { topic: 'sys.announce', data: [1] }, 'data must be an object'],
    ['string data', { topic: 'sys.announce', data: 'x' }, 'data must be an object'],
    ['an unknown field', { topic: 'sys.announce', data: {}, extra: 1 }, 'body unknown field extra'],
    ['messages null', { messages: null }, 'messages must be an array'],
    ['messages an object', { messages: { topic: 'sys.announce', data: {} } }, 'messages must be an array'],
    ['messages empty', { messages: [] }, 'messages must not be empty'],
    ['a null message', { messages: [null] }, 'messages[0] must be an object'],
    ['a bad second topic', { messages: [OK, { topic: 'x', data: {} }] }, 'messages[1].topic must be user.<sub>.<stream> or sys.announce'],
    ['a second message without data', { messages: [OK, { topic: 'sys.announce' }] }, 'messages[1].data is required'],
    ['messages beside topic', { messages: [{ topic: 'sys.announce', data: {} }], topic: 'sys.announce' }, 'body unknown field topic'],
  ])('rejects %s with a reason naming the field', (_name, body, error) => {
    expect(parse(body)).toEqual({ ok: false, reason: 'bad_body', error });
  });

  it('rejects data nested too deep or too large, naming the message, without overflowing the stack', () => {
    expect(parse({ topic: 'sys.announce', data: deep(2000) })).toEqual({
      ok: false,
      reason: 'too_deep',
      error: 'data nested deeper than 32 levels',
    });
    expect(
      parse({
        messages: [
          { topic: 'sys.announce', data: {} },
          { topic: 'user.bob.fills', data: deep(100_000) },
        ],
      }),
    ).toEqual({
      ok: false,
      reason: 'too_deep',
      error: 'messages[1].data nested deeper than 32 levels',
    });
    expect(parse({ topic: 'sys.announce', data: { s: 'x'.repeat(70_000) } })).toEqual({
      ok: false,
      reason: 'too_large',
      error: 'data larger than 65536 bytes',
    });
    expect(parse({ topic: 'sys.announce', data: deep(30) })).toMatchObject({ ok: true });
  });

  it('never throws, whatever the JSON', () => {
    const bodies: unknown[] = [
      undefined,
      true,
      0,
      '',
      [],
      [[]],
      { messages: [[]] },
      { messages: [{}] },
      { topic: null, data: null },
      { __proto__: { topic: 'sys.announce' } },
      JSON.parse('{"__proto__":{"x":1},"topic":"sys.announce","data":{}}'),
    ];
    for (const b of bodies) expect(() => parse(b)).not.toThrow();
    for (const b of bodies.slice(0, -1)) expect(parse(b)).toMatchObject({ ok: false, reason: 'bad_body' });
  });
});
