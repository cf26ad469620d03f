/**
 * `tickwire.v1.msgpack-compact` (docs/protocol.md, "Compact encoding"): the `data` of a market upd
 * or snap may be `[pxScale, qtyScale, ...columns]`. {@link expandCompact} turns it
 * back into the tick objects the msgpack subprotocol carries, so the rest of the SDK never sees
 * columns. A price is `n / pxScale` and a size `n / qtyScale`: an integer divided by an integer,
 * which gives exactly the float the gateway was given.
 */
import { FrameError } from './codec.js';

type Obj = Record<string, unknown>;
/** The columns after the scales, by position, as the kind's entry names them. */
type Expand = (cols: unknown[], n: number, ps: number, qs: number) => Obj[];

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
const isScale = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;

function bad(what: string): never {
  throw new FrameError(`malformed compact data: ${what}`);
}

/** An integer column of `n` values. */
function ints(c: unknown, name: string, n: number): number[] {
  if (!Array.isArray(c) || c.length !== n || !c.every((v) => Number.isSafeInteger(v))) bad(name);
  return c as number[];
}

/** A column sent as first value then differences, summed back. */
function summed(col: unknown, name: string, n: number): number[] {
  const c = ints(col, name, n).slice();
  for (let i = 1; i < n; i++) c[i] = (c[i] as number) + (c[i - 1] as number);
  return c;
}

/** Flat `[px, qty, px, qty, …]` levels (each price after the first a difference to the previous one) as `[px, qty]` pairs. */
function levels(flat: unknown, ps: number, qs: number, name: string): [number, number][] {
  if (!Array.isArray(flat) || flat.length % 2 !== 0 || !flat.every((v) => Number.isSafeInteger(v))) bad(name);
  const out: [number, number][] = [];
  let px = 0;
  for (let i = 0; i < flat.length; i += 2) {
    px = i === 0 ? (flat[0] as number) : px + (flat[i] as number);
    out.push([px / ps, (flat[i + 1] as number) / qs]);
  }
  return out;
}

/** Per kind (the part of the topic before the first `.`): columns back to ticks, in the msgpack field order. */
const EXPAND: Record<string, Expand> = {
  trade([tsc, pxc, qtyc, side], n, ps, qs) {
    const ts = summed(tsc, 'ts', n);
    const px = summed(pxc, 'px', n);
    const qty = ints(qtyc, 'qty', n);
    if (typeof side !== 'string' || side.length !== n || !/^[bs]*$/.test(side)) bad('side');
    return ts.map((t, i) => ({ ts: t, px: (px[i] as number) / ps, qty: (qty[i] as number) / qs, side: side[i] }));
  },
  quote([tsc, bidc, bszc, askc, aszc], n, ps, qs) {
    const ts = summed(tsc, 'ts', n);
    const bid = summed(bidc, 'bid', n);
    const bsz = ints(bszc, 'bsz', n);
    const spread = ints(askc, 'ask', n);
    const asz = ints(aszc, 'asz', n);
    return ts.map((t, i) => ({
      ts: t,
      bid: (bid[i] as number) / ps,
      bsz: (bsz[i] as number) / qs,
      ask: ((bid[i] as number) + (spread[i] as number)) / ps,
      asz: (asz[i] as number) / qs,
    }));
  },
  book([tsc, b, a, csc], n, ps, qs) {
    const ts = summed(tsc, 'ts', n);
    const cs = ints(csc, 'cs', n);
    if (!Array.isArray(b) || b.length !== n) bad('b');
    if (!Array.isArray(a) || a.length !== n) bad('a');
    return ts.map((t, i) => ({ ts: t, b: levels(b[i], ps, qs, 'b'), a: levels(a[i], ps, qs, 'a'), cs: cs[i] }));
  },
};

/**
 * A decoded compact-subprotocol message with its column `data` expanded into ticks (a list for
 * upd, one tick for snap). Everything else, including upd and snap in the msgpack form (free-form
 * kinds, values off their grid), is returned unchanged. Throws {@link FrameError} on malformed columns.
 */
export function expandCompact(value: unknown): unknown {
  if (!isObj(value) || (value.op !== 'upd' && value.op !== 'snap')) return value;
  const data = value.data;
  // The msgpack form's data is a list of maps (upd) or a map (snap); columns start with the price scale.
  if (!Array.isArray(data) || typeof data[0] !== 'number') return value;
  const topic = typeof value.topic === 'string' ? value.topic : '';
  const kind = topic.slice(0, topic.indexOf('.'));
  const expand = Object.hasOwn(EXPAND, kind) ? EXPAND[kind] : undefined;
  if (!expand) bad(`no column form for topic ${JSON.stringify(topic.slice(0, 104))}`);
  const [ps, qs, ...cols] = data as unknown[];
  if (!isScale(ps) || !isScale(qs)) bad('scales');
  const n = Array.isArray(cols[0]) ? cols[0].length : bad('ts');
  if (n === 0 || (value.op === 'snap' && n !== 1)) bad('ts');
  const ticks = expand(cols, n, ps, qs);
  return { ...value, data: value.op === 'snap' ? ticks[0] : ticks };
}
