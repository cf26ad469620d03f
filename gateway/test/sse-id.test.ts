import { describe, expect, it } from 'vitest';
import { idPrefix, parseEventId, topicsFingerprint } from '../src/transport/sse-id.js';

const TOPICS = ['trade.BTC-USD', 'quote.AAPL', 'trade.ETH-USD@100ms'];
const EPOCH = 'mwxkds20-9e612bba';

describe('SSE event ids', () => {
  it('round-trip: prefix + base-36 positions parse back to the epoch and every seq', () => {
    const seqs = [0, 1042, Number.MAX_SAFE_INTEGER];
    const id = idPrefix(EPOCH, TOPICS) + seqs.map((s) => s.toString(36)).join('.');
    expect(id.startsWith(`${EPOCH}.${topicsFingerprint(TOPICS)}.`)).toBe(true);
    expect(parseEventId(id, TOPICS)).toEqual({ epoch: EPOCH, seqs });
  });

  it('the fingerprint depends on the list and its order', () => {
    expect(topicsFingerprint(TOPICS)).toBe(topicsFingerprint([...TOPICS]));
    expect(topicsFingerprint(TOPICS)).not.toBe(topicsFingerprint([...TOPICS].reverse()));
    expect(topicsFingerprint(TOPICS)).not.toBe(topicsFingerprint(TOPICS.slice(1)));
    expect(topicsFingerprint(TOPICS)).toMatch(/^[0-9a-z]{1,7}$/);
  });

  it.each([
    ['empty', ''],
    ['garbage', 'not an id'],
    ['another topic list', `${idPrefix(EPOCH, TOPICS.slice(1))}1.2.3`],
    ['too few positions', `${idPrefix(EPOCH, TOPICS)}1.2`],
    ['too many positions', `${idPrefix(EPOCH, TOPICS)}1.2.3.4`],
    ['an empty position', `${idPrefix(EPOCH, TOPICS)}1..3`],
    ['a negative position', `${idPrefix(EPOCH, TOPICS)}1.-2.3`],
    ['upper case', `${idPrefix(EPOCH, TOPICS)}1.A.3`],
    ['beyond a safe integer', `${idPrefix(EPOCH, TOPICS)}1.${'z'.repeat(11)}.3`],
    ['a bad epoch', `ep och.${topicsFingerprint(TOPICS)}.1.2.3`],
    ['huge', `${idPrefix(EPOCH, TOPICS)}${'1.'.repeat(10_000)}1`],
  ])('rejects %s', (_name, id) => {
    expect(parseEventId(id, TOPICS)).toBeUndefined();
  });
});
