/**
 * Human-readable log lines for a terminal (`logFormat` pretty). pino still produces its JSON
 * line; this rewrites it just before the sink, so the fields, levels and child bindings are the
 * same in both formats and a collector reading JSON loses nothing a person reading the terminal
 * sees. Pure: no clock, no streams.
 */

const LEVELS: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const COLORS: Readonly<Record<string, string>> = { TRACE: '90', DEBUG: '90', INFO: '36', WARN: '33', ERROR: '31', FATAL: '35' };
/** Fields every line has or that the line's layout already shows. */
const LAYOUT = new Set(['level', 'time', 'msg', 'svc', 'pid', 'hostname', 'worker', 'err']);

export interface PrettyOptions {
  /** ANSI colour for the level (only on a terminal). */
  color: boolean;
}

/** One JSON log line (as pino writes it, with or without its newline) → one readable line. */
export function prettyLine(jsonLine: string, opts: PrettyOptions): string {
  let o: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(jsonLine);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return jsonLine.endsWith('\n') ? jsonLine : jsonLine + '\n';
    o = parsed as Record<string, unknown>;
  } catch {
    // Not ours to judge: pass the line through as it came.
    return jsonLine.endsWith('\n') ? jsonLine : jsonLine + '\n';
  }
  const level = LEVELS[Number(o.level)] ?? bare(o.level ?? '?');
  const time = typeof o.time === 'number' ? clock(o.time) : '--:--:--.---';
  const tag = opts.color ? `\u001b[${COLORS[level] ?? '0'}m${level.padEnd(5)}\u001b[0m` : level.padEnd(5);
  const who = o.worker === undefined ? '' : ` [worker ${bare(o.worker)}]`;
  const fields = Object.entries(o)
    .filter(([k]) => !LAYOUT.has(k))
    .map(([k, v]) => `${k}=${value(v)}`);
  let line = `${time} ${tag}${who} ${typeof o.msg === 'string' ? o.msg : ''}`;
  if (fields.length > 0) line += `  ${fields.join(' ')}`;
  const err = o.err as { message?: unknown; stack?: unknown } | undefined;
  if (err && typeof err === 'object') {
    const text = typeof err.stack === 'string' ? err.stack : bare(err.message ?? '');
    line +=
      '\n' +
      text
        .split('\n')
        .map((l) => `    ${l}`)
        .join('\n');
  }
  return line + '\n';
}

/** HH:MM:SS.mmm in UTC, the zone the JSON `time` and every other tickwire timestamp is in. */
function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

/** A field shown bare: a string as it is, anything else as value() writes it. */
function bare(v: unknown): string {
  return typeof v === 'string' ? v : value(v);
}

function value(v: unknown): string {
  if (typeof v === 'string') return /^[\w.:/@+-]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return JSON.stringify(v);
}
