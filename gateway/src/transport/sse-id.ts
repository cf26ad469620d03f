/**
 * The SSE event id: where a stream stands on every one of its topics, so that the one id a
 * browser's EventSource sends back (`Last-Event-ID`) resumes all of them. Pure.
 *
 * Grammar: `<epoch>.<fingerprint>.<p1>.<p2>...`, where `p_i` is the seq (base 36) of the last tick
 * the stream sent for its i-th topic (0: none yet), in the order of the stream's `topics`, and
 * `fingerprint` (base 36) identifies that topic list, so an id is never applied to another list.
 * Example: `mwxeck37-9529d2e5.1k2j0rq.8bx.8c2.0`.
 */

export interface StreamPosition {
  epoch: string;
  /** Seq per topic, in the stream's topic order. */
  seqs: number[];
}

/** FNV-1a (32 bit) of the topic list joined by commas, base 36: a short list identity, not a secret. */
export function topicsFingerprint(topics: readonly string[]): string {
  let h = 0x811c9dc5;
  const s = topics.join(',');
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(36);
}

/** The constant head of a stream's ids: `<epoch>.<fingerprint>.` */
export function idPrefix(epoch: string, topics: readonly string[]): string {
  return `${epoch}.${topicsFingerprint(topics)}.`;
}

const EPOCH = /^[A-Za-z0-9_-]{1,64}$/;
const SEQ = /^[0-9a-z]{1,11}$/;

/**
 * Reads an id against the stream's topic list. Returns undefined for anything that is not an id
 * of this list (malformed, another list, or absurd numbers): the caller treats that as "no
 * resume, flagged".
 */
export function parseEventId(id: string, topics: readonly string[]): StreamPosition | undefined {
  if (id.length > 64 + 16 + topics.length * 12) return undefined;
  const parts = id.split('.');
  if (parts.length !== topics.length + 2) return undefined;
  const [epoch, fp] = parts as [string, string];
  if (!EPOCH.test(epoch) || fp !== topicsFingerprint(topics)) return undefined;
  const seqs: number[] = [];
  for (let i = 2; i < parts.length; i++) {
    const p = parts[i] as string;
    if (!SEQ.test(p)) return undefined;
    const n = parseInt(p, 36);
    if (!Number.isSafeInteger(n)) return undefined;
    seqs.push(n);
  }
  return { epoch, seqs };
}
