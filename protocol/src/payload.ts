/**
 * Bounds on free-form payloads (user channels, `sys.announce`), checked where they enter the
 * gateway (Kafka records, POST /v1/publish). The send path encodes them recursively (msgpackr,
 * JSON.stringify): a value nested a few thousand deep overflows the stack there, long after the
 * record was accepted and once per subscriber flush, so it must never get in. The check itself
 * walks with an explicit stack, so no input can overflow it.
 */
export interface PayloadLimits {
  /** Containers (maps, arrays) nested at most this deep; the payload map itself is depth 1. */
  maxDepth: number;
  /** Estimated msgpack size (an upper bound: 9 bytes per number, 5 per header) at most this. */
  maxBytes: number;
}

/** The limits a configuration sets (payloadMaxDepth, payloadMaxBytes). */
export const payloadLimits = (cfg: { payloadMaxDepth: number; payloadMaxBytes: number }): PayloadLimits => ({
  maxDepth: cfg.payloadMaxDepth,
  maxBytes: cfg.payloadMaxBytes,
});

export type PayloadProblem = { reason: 'too_deep' | 'too_large'; detail: string };

/** Undefined when `value` is within the limits; otherwise which limit it breaks. */
export function checkPayload(value: unknown, limits: PayloadLimits): PayloadProblem | undefined {
  const { maxDepth, maxBytes } = limits;
  // Parallel stacks of values and their depths: no recursion, no per-entry allocation.
  const values: unknown[] = [value];
  const depths: number[] = [1];
  let bytes = 0;
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop() as number;
    if (typeof v === 'string') bytes += 5 + utf8Length(v);
    else if (typeof v !== 'object' || v === null) bytes += 9;
    else if (ArrayBuffer.isView(v)) bytes += 5 + v.byteLength;
    else {
      if (depth > maxDepth) return { reason: 'too_deep', detail: `nested deeper than ${maxDepth} levels` };
      bytes += 5;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          values.push(v[i]);
          depths.push(depth + 1);
        }
      } else {
        for (const k in v) {
          if (!Object.hasOwn(v, k)) continue;
          bytes += 5 + utf8Length(k);
          values.push((v as Record<string, unknown>)[k]);
          depths.push(depth + 1);
        }
      }
    }
    if (bytes > maxBytes) return { reason: 'too_large', detail: `larger than ${maxBytes} bytes` };
  }
  return undefined;
}

/**
 * UTF-8 length of a string, as Buffer.byteLength counts it (a lone surrogate is 3 bytes, the
 * replacement character it is written as), without Buffer: the protocol runs in browsers too.
 */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
