import { extname } from 'node:path';
import { pack } from 'msgpackr';
import { DEFAULT_MAX_RECORD_BYTES, decodeRecord } from '../../protocol/src/record.js';
import type { FeedValue } from './simulator.js';
import { isMarketKind, parseTopic, type ParsedTopic } from '../../protocol/src/topics.js';

/**
 * Recorded ticks for `tickwire-feed replay`, pure: text lines in, validated ticks (or line-numbered
 * errors) out, plus the timing math. Two formats, chosen by file extension:
 *
 * - NDJSON (`.ndjson`, `.jsonl`): one object per line, `{"topic": "trade.BTC-USD", "ts": ..., "px": ...}`;
 *   book records too: `{"topic": "book.BTC-USD", "type": "delta", "ts": ..., "changes": [["b", 64999.5, 0]], ...}`.
 * - CSV (`.csv`): a header line naming the columns (`topic`, `ts` and the tick fields, any order);
 *   empty cells for fields a kind doesn't have. Numeric cells become numbers. Fields may be quoted
 *   ("..." with "" for a quote); a record must fit on one line.
 *   CSV has no nested values: book records are NDJSON only (a CSV line keyed book.* is reported).
 *
 * Each record is validated exactly as the gateway validates a Kafka record (decodeRecord), so a
 * line that replays without error is one the gateway accepts. Blank lines are ignored.
 */
export type ReplayFormat = 'ndjson' | 'csv';

export interface ReplayRecord {
  /** 1-based line number in the file. */
  line: number;
  topic: string;
  /** Exactly the protocol's fields for the topic's kind (extra columns dropped): a tick or a book record. */
  tick: FeedValue;
}

export interface ReplayError {
  line: number;
  error: string;
}

export type LineResult = ReplayRecord | ReplayError;

export const isReplayError = (r: LineResult): r is ReplayError => 'error' in r;

/** Values larger than the gateway's default record limit (kafkaMaxRecordBytes) are reported, as the gateway would reject them. */
const MAX_RECORD_BYTES = DEFAULT_MAX_RECORD_BYTES;

export function formatOf(path: string): ReplayFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.ndjson' || ext === '.jsonl') return 'ndjson';
  if (ext === '.csv') return 'csv';
  throw new Error(`cannot tell the format of ${JSON.stringify(path)} from its extension: use .ndjson, .jsonl or .csv`);
}

/**
 * A stateful line parser: call it with each line of the file in order (1-based numbers). Returns
 * null for lines that carry no record (blank lines, the CSV header).
 */
export type LineParser = (text: string, line: number) => LineResult | null;

export function createLineParser(format: ReplayFormat): LineParser {
  return format === 'ndjson' ? parseNdjsonLine : csvParser();
}

/** Parses a whole file's text (tests, small files); the CLI streams lines instead. */
export function parseReplay(text: string, format: ReplayFormat): { records: ReplayRecord[]; errors: ReplayError[] } {
  const parse = createLineParser(format);
  const records: ReplayRecord[] = [];
  const errors: ReplayError[] = [];
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  lines.forEach((l, i) => {
    const r = parse(l, i + 1);
    if (r && isReplayError(r)) errors.push(r);
    else if (r) records.push(r);
  });
  return { records, errors };
}

function clean(text: string, line: number): string {
  let s = text.endsWith('\r') ? text.slice(0, -1) : text;
  if (line === 1 && s.charCodeAt(0) === 0xfeff) s = s.slice(1); // UTF-8 BOM
  return s;
}

export function parseNdjsonLine(text: string, line: number): LineResult | null {
  const s = clean(text, line);
  if (s.trim() === '') return null;
  let o: unknown;
  try {
    o = JSON.parse(s);
  } catch (e) {
    return { line, error: `invalid JSON: ${(e as Error).message}` };
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return { line, error: 'not a JSON object' };
  return toRecord(o as Record<string, unknown>, line, () => Buffer.from(s));
}

function csvParser(): LineParser {
  let header: string[] | undefined;
  return (text, line) => {
    const s = clean(text, line);
    if (s.trim() === '') return null;
    let cells: string[];
    try {
      cells = splitCsv(s);
    } catch (e) {
      return { line, error: (e as Error).message };
    }
    if (!header) {
      header = cells.map((c) => c.trim());
      const missing = ['topic', 'ts'].filter((c) => !header!.includes(c));
      const dup = header.find((c, i) => header!.indexOf(c) !== i);
      if (missing.length || dup !== undefined || header.includes('')) {
        const why = missing.length
          ? `has no ${missing.join(', ')} column`
          : dup !== undefined
            ? `repeats column ${JSON.stringify(dup)}`
            : 'has an empty column name';
        const err = { line, error: `CSV header ${why} (got ${JSON.stringify(s)})` };
        header = undefined; // every later line is reported against a missing header
        return err;
      }
      return null;
    }
    if (cells.length !== header.length)
      return { line, error: `expected ${header.length} cells (${header.join(',')}), got ${cells.length}` };
    const o: Record<string, unknown> = {};
    header.forEach((name, i) => {
      const cell = cells[i]!.trim();
      if (cell === '') return; // a field this kind doesn't have
      o[name] = name === 'topic' ? cell : csvValue(cell);
    });
    // msgpack rather than JSON, so a NaN or Infinity cell reaches the validator as such.
    return toRecord(o, line, () => pack(o));
  };
}

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function csvValue(cell: string): unknown {
  if (NUMERIC.test(cell) || cell === 'NaN' || /^[+-]?Infinity$/.test(cell)) return Number(cell);
  return cell;
}

/** Splits one CSV line; fields may be quoted with "..." and "" inside for a quote. */
export function splitCsv(s: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (s[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        const q = s.indexOf('"', i);
        if (q === -1) throw new Error('unterminated quoted CSV field (a record must fit on one line)');
        v += s.slice(i, q);
        if (s[q + 1] === '"') {
          v += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push(v);
      if (i < s.length && s[i] !== ',') throw new Error(`unexpected ${JSON.stringify(s[i])} after a quoted CSV field`);
    } else {
      const c = s.indexOf(',', i);
      out.push(c === -1 ? s.slice(i) : s.slice(i, c));
      i = c === -1 ? s.length : c;
    }
    if (i >= s.length) return out;
    i++; // the comma
    if (i === s.length) {
      out.push(''); // trailing comma: an empty last field
      return out;
    }
  }
}

function toRecord(o: Record<string, unknown>, line: number, value: () => Buffer): LineResult {
  const topic = o.topic;
  if (typeof topic !== 'string' || topic === '') return { line, error: 'missing "topic"' };
  // Replay timing needs every ts; the gateway's fallback to the receive time does not apply.
  if (o.ts === undefined || o.ts === null) return { line, error: `${topic}: missing ts (replay needs a timestamp on every line)` };
  const r = decodeRecord(Buffer.from(topic), value(), MAX_RECORD_BYTES, NaN);
  if ('reject' in r) return { line, error: `${r.reject}: ${r.detail}` };
  if (!isMarketKind((parseTopic(topic) as ParsedTopic).kind))
    return { line, error: `${topic}: replay carries market records (trade.*, quote.*, book.*) only` };
  return { line, topic: r.topic, tick: r.tick as FeedValue };
}

/**
 * Replay timing. A pass starts at wall time `wallStart` with the first record's ts `firstTs`;
 * record ts is due at wallStart + (ts − firstTs) / speed, so recorded gaps are kept, divided by
 * the speed. Speed 0 means no waiting. Out-of-order records (ts before an earlier one) are due
 * immediately: the file order is kept.
 */
export class ReplayClock {
  private firstTs = NaN;
  private wallStart = NaN;

  constructor(readonly speed: number) {
    if (!Number.isFinite(speed) || speed < 0) throw new Error(`speed must be finite and >= 0, got ${speed}`);
  }

  /** Starts a pass (a new loop); the next record seen anchors the recording to the wall clock. */
  startPass(): void {
    this.firstTs = NaN;
  }

  /** Wall time (epoch ms) at which a record stamped `ts` is due. Anchors the pass on its first call. */
  dueAt(ts: number, now: number): number {
    if (Number.isNaN(this.firstTs)) {
      this.firstTs = ts;
      this.wallStart = now;
    }
    if (this.speed === 0) return now;
    return this.wallStart + (ts - this.firstTs) / this.speed;
  }

  /**
   * The ts to publish (unless --keep-ts): the record's offset into the recording, divided by the
   * speed, added to the wall time the pass started, which is when it is due. Ticks then look live
   * (latency = receive time − ts makes sense) and keep their recorded spacing. At speed 0 there
   * is no schedule, so the send time `now` is used.
   */
  rewrite(ts: number, now: number): number {
    if (this.speed === 0) return now;
    return Math.round(this.dueAt(ts, now));
  }
}
