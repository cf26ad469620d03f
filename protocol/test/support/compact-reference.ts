/**
 * A reference decoder of `tickwire.v1.msgpack-compact` columns for the protocol's own tests,
 * written from docs/protocol.md ("Compact encoding") apart from the SDKs' decoders: a decoded
 * frame whose `data` is `[pxScale, qtyScale, ...columns]` becomes the msgpack form's ticks.
 */
type Row = Record<string, unknown>;

const sums = (xs: number[]): number[] =>
  xs.map(
    (
      (acc) => (x: number) =>
        (acc += x)
    )(0),
  );

function levels(flat: number[], ps: number, qs: number): [number, number][] {
  const pxs = sums(flat.filter((_, i) => i % 2 === 0));
  return pxs.map((p, i) => [p / ps, (flat[2 * i + 1] as number) / qs]);
}

const KINDS: Record<string, (ps: number, qs: number, cols: any[]) => Row[]> = {
  trade: (ps, qs, [ts, px, qty, side]) => sums(px).map((p, i) => ({ ts: sums(ts)[i], px: p / ps, qty: qty[i] / qs, side: side[i] })),
  quote: (ps, qs, [ts, bid, bsz, ask, asz]) =>
    sums(bid).map((b, i) => ({ ts: sums(ts)[i], bid: b / ps, bsz: bsz[i] / qs, ask: (b + ask[i]) / ps, asz: asz[i] / qs })),
  book: (ps, qs, [ts, b, a, cs]) => sums(ts).map((t, i) => ({ ts: t, b: levels(b[i], ps, qs), a: levels(a[i], ps, qs), cs: cs[i] })),
};

/** The message as the msgpack subprotocol would have carried it. */
export function referenceExpand(msg: unknown): unknown {
  const m = msg as Row;
  if ((m.op !== 'upd' && m.op !== 'snap') || !Array.isArray(m.data) || typeof m.data[0] !== 'number') return msg;
  const [ps, qs, ...cols] = m.data as [number, number, ...unknown[]];
  const ticks = (KINDS[String(m.topic).split('.')[0] as string] as (typeof KINDS)[string])(ps, qs, cols);
  return { ...m, data: m.op === 'snap' ? ticks[0] : ticks };
}
