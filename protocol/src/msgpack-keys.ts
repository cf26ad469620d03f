/**
 * The msgpack map keys and fixed strings of the tick frames, as finished bytes. Kept apart from
 * the writer (which uses Buffer) so that the kind registry, and everything browsers import,
 * stays free of Node globals.
 */
/** A short ASCII string (a map key or fixed value) as its finished msgpack bytes. */
function fixstr(s: string): Uint8Array {
  const out = new Uint8Array(s.length + 1);
  out[0] = 0xa0 | s.length;
  for (let i = 0; i < s.length; i++) out[i + 1] = s.charCodeAt(i);
  return out;
}

/**
 * Keys and fixed strings, encoded once: writing them is a copy, not a UTF-8 length and encode
 * per key per tick.
 */
export const K = {
  op: fixstr('op'),
  upd: fixstr('upd'),
  snap: fixstr('snap'),
  topic: fixstr('topic'),
  seq: fixstr('seq'),
  epoch: fixstr('epoch'),
  data: fixstr('data'),
  resync: fixstr('resync'),
  src: fixstr('src'),
  off: fixstr('off'),
  ts: fixstr('ts'),
  px: fixstr('px'),
  qty: fixstr('qty'),
  side: fixstr('side'),
  b: fixstr('b'),
  s: fixstr('s'),
  bid: fixstr('bid'),
  bsz: fixstr('bsz'),
  ask: fixstr('ask'),
  asz: fixstr('asz'),
} as const;
