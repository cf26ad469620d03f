import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { protocolJson, protocolJsonText } from '../../../protocol/src/protocol-json.js';
import { parseSubscription } from '../../../protocol/src/topics.js';

const committed = readFileSync(new URL('../../python/tickwire/protocol.json', import.meta.url), 'utf8');

describe("protocol.json (the Python SDK's copy of the wire contract)", () => {
  it('is what the generator writes today (npm run docs:protocol)', () => {
    expect(committed).toBe(protocolJsonText());
  });

  it('is installed with the Python package', () => {
    const pyproject = readFileSync(new URL('../../python/pyproject.toml', import.meta.url), 'utf8');
    expect(pyproject).toMatch(/tickwire = \[[^\]]*"protocol\.json"/);
  });

  it('its topic patterns, read as whole-name matches, accept what the gateway accepts', () => {
    const t = protocolJson().topics;
    const market = new RegExp(t.marketPattern);
    const user = new RegExp(t.userPattern);
    const accepts = (name: string): boolean => {
      if (name.length > t.maxTopicLength) return false;
      const at = name.indexOf('@');
      if (at !== -1) return t.throttleIntervals[name.slice(at + 1)] !== undefined && market.test(name.slice(0, at));
      return market.test(name) || user.test(name) || name === t.announceTopic;
    };
    const names = [
      ...['trade.BTC-USD', 'quote.AAPL@100ms', 'quote.AAPL@1000ms', 'quote.AAPL@2ms', 'trade.btc-usd', 'user.alice.orders'],
      ...['user.alice.orders@100ms', 'sys.announce', 'sys.other', 'trade.', `trade.${'A'.repeat(32)}`, `trade.${'A'.repeat(33)}`],
      `user.${'a'.repeat(64)}.${'b'.repeat(32)}`,
    ];
    for (const n of names) expect(accepts(n), n).toBe(parseSubscription(n) !== undefined);
  });
});
