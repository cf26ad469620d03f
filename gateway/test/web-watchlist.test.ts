import { describe, expect, it } from 'vitest';
import { formatAge, Watchlist } from '../../web/watchlist.js';

/** A Storage stand-in: what localStorage keeps between page loads. */
function memoryStore(): Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return { data, getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v), removeItem: (k) => void data.delete(k) };
}

describe('board watchlist', () => {
  it('follows the gateway until the user edits, then keeps the user list across page loads', () => {
    const store = memoryStore();
    const w = new Watchlist(store);
    expect(w.isCustom).toBe(false);
    expect(w.symbols(['ETH-USD', 'BTC-USD'])).toEqual(['BTC-USD', 'ETH-USD']);
    w.remove('ETH-USD', ['BTC-USD', 'ETH-USD']);
    expect(w.isCustom).toBe(true);
    // Newly discovered symbols no longer appear by themselves.
    expect(w.symbols(['BTC-USD', 'ETH-USD', 'SOL-USD'])).toEqual(['BTC-USD']);
    expect(w.add(' sol-usd ', ['BTC-USD'])).toEqual({ ok: true, symbol: 'SOL-USD' });
    const reloaded = new Watchlist(store);
    expect(reloaded.symbols([])).toEqual(['BTC-USD', 'SOL-USD']);
    reloaded.reset();
    expect(new Watchlist(store).isCustom).toBe(false);
  });

  it('refuses what is not a symbol, and duplicates, without changing the list', () => {
    const w = new Watchlist(memoryStore());
    for (const bad of ['', 'a b', 'X'.repeat(33), 'trade.BTC-USD', '-BTC']) {
      const r = w.add(bad, ['BTC-USD']);
      expect(r.ok, bad).toBe(false);
    }
    expect(w.add('btc-usd', ['BTC-USD'])).toEqual({ ok: false, reason: 'BTC-USD is already on the board' });
    expect(w.isCustom).toBe(false);
  });

  it('survives storage that is missing or holds garbage', () => {
    const store = memoryStore();
    store.data.set('tickwire.board.symbols', '{not json');
    expect(new Watchlist(store).isCustom).toBe(false);
    store.data.set('tickwire.board.symbols', JSON.stringify(['BTC-USD', 42, 'bad symbol']));
    expect(new Watchlist(store).symbols([])).toEqual(['BTC-USD']);
    const none = new Watchlist(undefined);
    expect(none.add('AAPL', []).ok).toBe(true);
    expect(none.symbols(['MSFT'])).toEqual(['AAPL']);
  });

  it('formats ages from tenths of a second to hours', () => {
    expect(formatAge(0)).toBe('0.0 s');
    expect(formatAge(1234)).toBe('1.2 s');
    expect(formatAge(42_000)).toBe('42 s');
    expect(formatAge(5 * 60_000 + 1)).toBe('5 min');
    expect(formatAge(3 * 3_600_000)).toBe('3 h');
    expect(formatAge(-1)).toBe('—');
  });
});
