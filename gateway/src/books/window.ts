import type { Book, Level } from '../../../protocol/src/book.js';

/** One side of a Book: prices best first, sizes at the same index. */
export type BookSide = Book['bids'];

/** Size resting at `px` on `side`, 0 when there is no level. Binary search. */
export function sizeAt(side: BookSide, px: number): number {
  const i = side.find(px);
  return i >= 0 ? (side.qty[i] as number) : 0;
}

/**
 * Sets `px` to `qty` on `side` given `i = side.find(px)`: `Side.set` without its own binary search,
 * for a caller that has already looked the price up (the engine, for the size before the change).
 */
export function setFound(side: BookSide, i: number, px: number, qty: number): void {
  if (i >= 0) {
    if (qty === 0) {
      side.px.splice(i, 1);
      side.qty.splice(i, 1);
    } else side.qty[i] = qty;
  } else if (qty !== 0) {
    const at = -i - 1;
    side.px.splice(at, 0, px);
    side.qty.splice(at, 0, qty);
  }
}

/**
 * The price of the worst level inside the top `depth`, or the worst price there is (−∞ for bids,
 * +∞ for asks) when the side has fewer levels, so that every level is inside: comparisons need no separate case, and the value stays a
 * double (the engine keeps them in a Float64Array).
 */
export function windowEdge(side: BookSide, depth: number): number {
  return side.px.length >= depth ? (side.px[depth - 1] as number) : side.bid ? -Infinity : Infinity;
}

/**
 * The prices a change set touched on one side, with the size each had before it and has after it
 * (the input of `SideChanges`). Reused from one change set to the next (`clear`): a few plain arrays of
 * doubles instead of a Map, whose keys and values would each be a boxed number.
 */
export class Touched {
  /** Touched prices: px[0..size). Typed arrays that only grow: emptying a JS array drops its storage. */
  px = new Float64Array(16);
  /** Size before the change set (0: no level). */
  qtyBefore = new Float64Array(16);
  /** Size after the change set (0: no level), as `add` last set it. */
  qtyAfter = new Float64Array(16);
  size = 0;
  /** Price → index, once a change set touches many prices (a linear scan is cheaper for a few). */
  private index: Map<number, number> | undefined;

  clear(): void {
    this.size = 0;
    this.index = undefined;
  }

  private indexOf(p: number): number {
    if (this.index !== undefined) return this.index.get(p) ?? -1;
    const px = this.px;
    for (let k = 0; k < this.size; k++) if (px[k] === p) return k;
    return -1;
  }

  /**
   * Records `p` with its size before the change set and after it: the first size before wins (the
   * level as subscribers hold it), the last size after (the level as the side now has it).
   */
  add(p: number, qtyBefore: number, qtyAfter: number): void {
    const at = this.indexOf(p);
    if (at >= 0) {
      this.qtyAfter[at] = qtyAfter;
      return;
    }
    const k = this.size++;
    if (k === this.px.length) this.grow();
    this.px[k] = p;
    this.qtyBefore[k] = qtyBefore;
    this.qtyAfter[k] = qtyAfter;
    if (this.index !== undefined) this.index.set(p, k);
    else if (k + 1 >= MANY) {
      this.index = new Map();
      for (let i = 0; i <= k; i++) this.index.set(this.px[i] as number, i);
    }
  }

  /** Puts back the sizes the change set found on `side`. */
  revert(side: BookSide): void {
    for (let k = 0; k < this.size; k++) side.set(this.px[k] as number, this.qtyBefore[k] as number);
  }

  private grow(): void {
    const n = this.px.length * 2;
    const px = new Float64Array(n);
    const q = new Float64Array(n);
    const qa = new Float64Array(n);
    px.set(this.px);
    q.set(this.qtyBefore);
    qa.set(this.qtyAfter);
    this.px = px;
    this.qtyBefore = q;
    this.qtyAfter = qa;
  }
}

const MANY = 24;

/**
 * A change set's changed levels on one side, best first: the diff of the whole side (every depth),
 * from which each window's diff is derived (`windowChanges`). Built once per change set from the
 * touched prices; a price set to the size it had is no change. Reused from one change set to the next.
 */
export class SideChanges {
  px = new Float64Array(16);
  qtyBefore = new Float64Array(16);
  qtyAfter = new Float64Array(16);
  /** `[px, qtyAfter]` of each change, made by the first window that lists it and shared by the others. */
  readonly level: (Level | undefined)[] = [];
  size = 0;

  /** The changes among `t` (sizes after recorded by `add`), sorted best first. */
  build(t: Touched, bid: boolean): this {
    if (t.size > MANY) return this.buildMany(t, bid);
    // By insertion: a change set has a few, where Array.prototype.sort's fixed cost would dominate.
    let n = 0;
    if (t.size > this.px.length) this.grow(t.size);
    const px = this.px;
    const qb = this.qtyBefore;
    const qa = this.qtyAfter;
    for (let k = 0; k < t.size; k++) {
      const p = t.px[k] as number;
      const before = t.qtyBefore[k] as number;
      const after = t.qtyAfter[k] as number;
      if (before === after) continue;
      let j = n++;
      while (j > 0 && (bid ? (px[j - 1] as number) < p : (px[j - 1] as number) > p)) {
        px[j] = px[j - 1] as number;
        qb[j] = qb[j - 1] as number;
        qa[j] = qa[j - 1] as number;
        j--;
      }
      px[j] = p;
      qb[j] = before;
      qa[j] = after;
    }
    for (let k = 0; k < n; k++) this.level[k] = undefined;
    this.size = n;
    return this;
  }

  /** `build` for a long change set (a large upstream delta): a real sort, not insertion's n². */
  private buildMany(t: Touched, bid: boolean): this {
    if (t.size > this.px.length) this.grow(t.size);
    const ks: number[] = [];
    for (let k = 0; k < t.size; k++) if (t.qtyBefore[k] !== t.qtyAfter[k]) ks.push(k);
    ks.sort((x, y) => (bid ? -1 : 1) * ((t.px[x] as number) - (t.px[y] as number)));
    ks.forEach((k, i) => {
      this.px[i] = t.px[k] as number;
      this.qtyBefore[i] = t.qtyBefore[k] as number;
      this.qtyAfter[i] = t.qtyAfter[k] as number;
      this.level[i] = undefined;
    });
    this.size = ks.length;
    return this;
  }

  /** Whether `p` is the `k`-th change; for prices `p` visited best first with `k` advanced by `seek`. */
  seek(k: number, p: number, bid: boolean): number {
    while (k < this.size && (bid ? (this.px[k] as number) > p : (this.px[k] as number) < p)) k++;
    return k;
  }

  private grow(min: number): void {
    let n = this.px.length;
    while (n < min) n *= 2;
    this.px = new Float64Array(n);
    this.qtyBefore = new Float64Array(n);
    this.qtyAfter = new Float64Array(n);
  }
}

/**
 * What changed in the top `depth` levels of one side after a change set was applied to it, derived
 * from the side's whole diff `f` (sorted best first): the same result as
 * `windowDiff(top-depth before, top-depth after)` (protocol/src/book.ts), in O(changes + run) per
 * window instead of O(depth). `before` is `windowEdge(side, depth)` taken before the change set.
 *
 * A change is in the window's diff when its level was in the window before or is in it now, that
 * is, when its price is at or above the old boundary or the new one: the changes that qualify are
 * a prefix of `f` up to the first price below both, so the shallower windows walk ever shorter
 * prefixes of the same list. Levels the change set did not change enter the window only from just
 * below the old boundary (when levels above were removed) and leave it only from just below the
 * new one (when levels were inserted above): those two short runs are walked, nothing else; where
 * the first starts is counted from the changes above the old boundary instead of searched.
 */
export function windowChanges(side: BookSide, depth: number, before: number, f: SideChanges): readonly Level[] {
  const bid = side.bid;
  const px = side.px;
  const n = px.length;
  const after = windowEdge(side, depth);
  // Collected in a reused array and copied out at their number: an array grown by push from empty
  // gets room for 17 and was most of what the engine allocated.
  const out = SCRATCH;
  let m = 0;
  // Levels strictly above the old boundary now, less the depth - 1 there were before it.
  let shift = 0;
  let beforeKept = true;
  for (let k = 0; k < f.size; k++) {
    const p = f.px[k] as number;
    const inOld = bid ? p >= before : p <= before;
    const inNew = bid ? p >= after : p <= after;
    if (!inOld && !inNew) break;
    const qb = f.qtyBefore[k] as number;
    const qa = f.qtyAfter[k] as number;
    if (p === before) beforeKept = qa !== 0;
    else if (inOld) shift += (qa !== 0 ? 1 : 0) - (qb !== 0 ? 1 : 0);
    if ((qa !== 0 && inNew) || (qa === 0 && qb !== 0 && inOld)) out[m++] = f.level[k] ??= [p, qa];
    else if (qb !== 0 && inOld) out[m++] = [p, 0];
  }
  // An open edge (the side had fewer levels) lets nothing in from below.
  // The changes above are in order (f is); so is the one run below, walked by rank: a merge, no sort.
  const fromF = m;
  if (n > 0) {
    const last = px[Math.min(depth, n) - 1] as number;
    if (bid ? last < before : last > before) {
      // Untouched levels that moved up into the window: from the first one below the old boundary.
      let j = 0;
      for (let i = depth - 1 + shift + (beforeKept ? 1 : 0); i < depth && i < n; i++) {
        const p = px[i] as number;
        j = f.seek(j, p, bid);
        if (j >= f.size || f.px[j] !== p) out[m++] = [p, side.qty[i] as number];
      }
    }
  }
  // Untouched levels pushed out of it: ranks from `depth` on, at or above the old boundary.
  let j = 0;
  for (let i = depth; i < n; i++) {
    const p = px[i] as number;
    if (bid ? p < before : p > before) break;
    j = f.seek(j, p, bid);
    if (j >= f.size || f.px[j] !== p) out[m++] = [p, 0];
  }
  if (m === 0) return NO_CHANGES;
  if (fromF === 0 || fromF === m) return copyOut(out, m);
  const lastF = (out[fromF - 1] as Level)[0];
  const firstRun = (out[fromF] as Level)[0];
  if (bid ? lastF > firstRun : lastF < firstRun) return copyOut(out, m);
  return merge(out, fromF, m, bid);
}

/** The two runs out[0, k) and out[k, m), each best first, merged into a new array. */
function merge(out: Level[], k: number, m: number, bid: boolean): Level[] {
  const res: Level[] = [];
  let i = 0;
  let j = k;
  while (i < k && j < m) {
    const x = out[i] as Level;
    const y = out[j] as Level;
    if (bid ? x[0] > y[0] : x[0] < y[0]) {
      res.push(x);
      i++;
    } else {
      res.push(y);
      j++;
    }
  }
  while (i < k) res.push(out[i++] as Level);
  while (j < m) res.push(out[j++] as Level);
  return res;
}

/**
 * The first `m` of the scratch as a new array. Most windows have one to four changes: array
 * literals are allocated inline, where `slice` is a call into the runtime each time. The scratch is
 * written in order and never shrunk, so it stays a packed array, and so does its slice.
 */
function copyOut(out: Level[], m: number): Level[] {
  const x = out as [Level, Level, Level, Level];
  switch (m) {
    case 1:
      return [x[0]];
    case 2:
      return [x[0], x[1]];
    case 3:
      return [x[0], x[1], x[2]];
    case 4:
      return [x[0], x[1], x[2], x[3]];
    default:
      return out.slice(0, m);
  }
}

const SCRATCH: Level[] = [];

/** The result of a window without changes: shared and empty, so callers must not add to it. */
export const NO_CHANGES: readonly Level[] = [];
