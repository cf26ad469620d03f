/**
 * A sample client of the books scenario that checks what the load generator's header-only clients
 * cannot: it applies the `snap` and every change set of one book topic (raw or throttled) to its
 * own book and verifies each checksum (`cs`, CRC32 of the top 10 levels in the snap's tick and
 * lot units), and that seqs never go back (raw: consecutive). One extra connection beside the N
 * measured clients, in this process (its CPU counts as load generator's).
 */
import { pack, Unpackr } from 'msgpackr';
import WebSocket from 'ws';
import { Book, type BookChange, type BookSnapshot, type BookUnits } from '../../../protocol/src/book.js';

export interface BookVerifyResult {
  topic: string;
  snaps: number;
  changeSets: number;
  /** Checksums compared (every snap and change set after the first snap). */
  checked: number;
  mismatches: number;
  /** Raw topic: a seq that skipped ahead; throttled: never counted (one seq step per interval is not promised as +1). */
  gaps: number;
  /** A seq at or before the last one seen. */
  outOfOrder: number;
  errors: string[];
}

export interface BookVerifier {
  /** Resolves once the first snap arrived (or rejects after `timeoutMs`). */
  ready(timeoutMs: number): Promise<void>;
  /** Closes the connection and returns the counts. */
  stop(): Promise<BookVerifyResult>;
}

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

export function startBookVerifier(url: string, topic: string): BookVerifier {
  const r: BookVerifyResult = { topic, snaps: 0, changeSets: 0, checked: 0, mismatches: 0, gaps: 0, outOfOrder: 0, errors: [] };
  const throttled = topic.includes('@');
  let book: Book | undefined;
  let units: BookUnits | undefined;
  let next = NaN;
  let onSnap: (() => void) | undefined;
  const ws = new WebSocket(url, 'tickwire.v1.msgpack');
  const error = (s: string): void => void (r.errors.length < 5 && r.errors.push(s));
  ws.on('open', () => ws.send(pack({ op: 'sub', id: 1, topics: [topic] })));
  ws.on('error', (e) => error(`ws: ${e.message}`));
  ws.on('message', (data: Buffer) => {
    let m: Record<string, unknown>;
    try {
      m = unpackr.unpack(data) as Record<string, unknown>;
    } catch (e) {
      return error(`undecodable frame: ${(e as Error).message}`);
    }
    if (m.topic !== topic) return;
    const seq = m.seq as number;
    if (m.op === 'snap') {
      const s = m.data as BookSnapshot;
      r.snaps++;
      book = new Book();
      book.apply(s.bids, s.asks, s.ts);
      units = { tick: s.tick, lot: s.lot };
      check(s.cs);
      next = seq + 1;
      onSnap?.();
    } else if (m.op === 'upd' && book && units) {
      if (seq < next) r.outOfOrder++;
      else if (seq > next && !throttled) r.gaps++;
      const sets = m.data as BookChange[];
      for (const c of sets) {
        book.apply(c.b, c.a, c.ts);
        r.changeSets++;
        check(c.cs);
      }
      next = seq + sets.length;
    }
  });
  function check(cs: number): void {
    r.checked++;
    if (book!.checksum(units!) !== cs) r.mismatches++;
  }
  return {
    ready: (timeoutMs) =>
      new Promise((resolve, reject) => {
        if (r.snaps > 0) return resolve();
        const t = setTimeout(() => reject(new Error(`no snap of ${topic} within ${timeoutMs} ms`)), timeoutMs);
        onSnap = () => {
          clearTimeout(t);
          onSnap = undefined;
          resolve();
        };
      }),
    stop: () =>
      new Promise((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve(r);
        ws.once('close', () => resolve(r));
        ws.close();
      }),
  };
}
