/**
 * Which symbols the board shows. Until the user adds or removes one, the board follows the
 * gateway (every symbol with data, as discovered); the first edit turns that into the user's own
 * list, kept in localStorage so a reload shows the same board, until "show all" resets it.
 * Pure apart from the Storage it is given.
 */

/** The market-topic symbol grammar (docs/protocol.md, "Topics"). */
export const SYMBOL_PATTERN = /^[A-Z0-9][A-Z0-9_-]{0,31}$/;
const KEY = 'tickwire.board.symbols';

export type AddResult = { ok: true; symbol: string } | { ok: false; reason: string };

export class Watchlist {
  /** The user's list, or undefined while the board follows the gateway. */
  private custom: string[] | undefined;

  constructor(private readonly store: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | undefined) {
    try {
      const saved: unknown = JSON.parse(store?.getItem(KEY) ?? 'null');
      if (Array.isArray(saved)) this.custom = saved.filter((s): s is string => typeof s === 'string' && SYMBOL_PATTERN.test(s));
    } catch {
      // A damaged entry is as good as none.
    }
  }

  /** True once the user chose the symbols (discovery then adds nothing). */
  get isCustom(): boolean {
    return this.custom !== undefined;
  }

  /** What to show, given what the gateway has: the user's list, or everything discovered. */
  symbols(discovered: readonly string[]): string[] {
    return [...(this.custom ?? discovered)].sort();
  }

  /**
   * Adds `input` (trimmed, upper-cased) to the user's list, starting it from `current` (what the
   * board shows now) on the first edit.
   */
  add(input: string, current: readonly string[]): AddResult {
    const symbol = input.trim().toUpperCase();
    if (!SYMBOL_PATTERN.test(symbol))
      return { ok: false, reason: `"${input.trim()}" is not a symbol (letters, digits, - and _, up to 32)` };
    const list = this.custom ?? [...current];
    if (list.includes(symbol)) return { ok: false, reason: `${symbol} is already on the board` };
    this.save([...list, symbol]);
    return { ok: true, symbol };
  }

  remove(symbol: string, current: readonly string[]): void {
    this.save((this.custom ?? [...current]).filter((s) => s !== symbol));
  }

  /** Back to following the gateway. */
  reset(): void {
    this.custom = undefined;
    this.store?.removeItem(KEY);
  }

  private save(list: string[]): void {
    this.custom = list;
    this.store?.setItem(KEY, JSON.stringify(list));
  }
}

/** "0.3 s", "12 s", "4 min", "2 h": how long ago the row last changed. */
export function formatAge(ms: number): string {
  if (!(ms >= 0)) return '—';
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 60_000) return `${Math.floor(ms / 1000)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min`;
  return `${Math.floor(ms / 3_600_000)} h`;
}
