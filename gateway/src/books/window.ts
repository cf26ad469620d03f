import type { Book, Level } from '../../../protocol/src/book.js';

/** One side of a Book: prices best first, sizes at the same index. */
export type BookSide = Book['bids'];

/** Size resting at `px` on `side`, 0 when there is no level. Binary search. */
export function sizeAt(side: BookSide, px: number): number {
  const i = side.find(px);
  return i >= 0 ? (side.qty[i] as number) : 0;
}

/** The price of the worst level inside the top `depth`, or undefined when the side has fewer levels. */
export function boundary(side: BookSide, depth: number): number | undefined {
  return side.px.length >= depth ? side.px[depth - 1] : undefined;
}

/** The prices a change set touched on one side, looked up once for every window. */
export interface Touched {
  /** Price → size before the change set (0: no level); also the membership test. */
  readonly before: ReadonlyMap<number, number>;
  readonly px: number[];
  readonly qtyBefore: number[];
  /** Index of each price in the side after the change set, -1 when it has no level. */
  readonly at: number[];
}

/** `changed` (price → size before) with each price's index after the change set (one binary search each). */
export function touched(side: BookSide, changed: ReadonlyMap<number, number>): Touched {
  const px: number[] = [];
  const qtyBefore: number[] = [];
  const at: number[] = [];
  for (const [p, q] of changed) {
    const i = side.find(p);
    px.push(p);
    qtyBefore.push(q);
    at.push(i >= 0 ? i : -1);
  }
  return { before: changed, px, qtyBefore, at };
}

/**
 * What changed in the top `depth` levels of one side after a change set was applied to it: the
 * same result as `windowDiff(top-depth before, top-depth after)` (protocol/src/book.ts), but
 * computed from what the change set touched, so that a change deep in the book costs O(changes)
 * per window, not O(depth).
 *
 * `before` is `boundary(side, depth)` taken before the change set was applied. Levels the change
 * set did not touch enter the window only from just below the old boundary (when levels above
 * were removed) and leave it only from just below the new one (when levels were inserted above):
 * those two short runs are walked, nothing else.
 */
export function sideWindowChanges(side: BookSide, depth: number, before: number | undefined, t: Touched): Level[] {
  const bid = side.bid;
  const px = side.px;
  const n = px.length;
  const out: Level[] = [];
  // `before` undefined: the side had fewer than `depth` levels, every level was in the window.
  for (let k = 0; k < t.px.length; k++) {
    const p = t.px[k] as number;
    const qb = t.qtyBefore[k] as number;
    const inBefore = qb !== 0 && (before === undefined || (bid ? p >= before : p <= before));
    const i = t.at[k] as number;
    if (i >= 0 && i < depth) {
      const qa = side.qty[i] as number;
      if (!inBefore || qa !== qb) out.push([p, qa]);
    } else if (inBefore) out.push([p, 0]);
  }
  // Untouched levels that moved up into the window: ranks below `depth` now, worse than the old boundary.
  if (
    before !== undefined &&
    n > 0 &&
    (bid ? (px[Math.min(depth, n) - 1] as number) < before : (px[Math.min(depth, n) - 1] as number) > before)
  ) {
    const at = side.find(before);
    for (let i = at >= 0 ? at + 1 : -at - 1; i < depth && i < n; i++) {
      const p = px[i] as number;
      if (!t.before.has(p)) out.push([p, side.qty[i] as number]);
    }
  }
  // Untouched levels pushed out of it: ranks from `depth` on, at or better than the old boundary.
  for (let i = depth; i < n; i++) {
    const p = px[i] as number;
    if (before !== undefined && (bid ? p < before : p > before)) break;
    if (!t.before.has(p)) out.push([p, 0]);
  }
  if (out.length > 1) out.sort(bid ? (x, y) => y[0] - x[0] : (x, y) => x[0] - y[0]);
  return out;
}
