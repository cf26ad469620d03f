/**
 * Where the JSON log lines go: stdout, without ever letting stdout hold the gateway up.
 *
 * pino's default destination (sonic-boom) retries a failed write in a sleeping loop, and at
 * exit it flushes synchronously: with the log reader gone (EPIPE), that loop never ends and the
 * process hangs after its port closed, deaf even to a second SIGTERM (issue 13, point 7). This
 * sink writes through Node's own stdout stream, which is non-blocking for pipes and sockets:
 * a line that would queue past `maxPendingBytes` is dropped (a stuck reader costs log lines,
 * not memory or liveness), and after a hard error (EPIPE, a closed fd) nothing is written again.
 * Nothing is flushed at exit: lines still queued then are lost, by design.
 */

/** What the sink needs from a stream; process.stdout in practice. */
export interface LineStream {
  write(chunk: string): boolean;
  readonly writableLength: number;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

export interface LogSinkStats {
  /** Lines handed to the stream. */
  readonly written: number;
  /** Lines dropped: the stream was full or dead. */
  readonly dropped: number;
  /** The stream failed for good; the error's code (EPIPE, EBADF, ...). */
  readonly deadCode: string | undefined;
}

export interface LogSink extends LogSinkStats {
  /** pino calls this once per line. */
  write(line: string): void;
}

/** Errors after which the stream will never take a line again. */
const FATAL = new Set(['EPIPE', 'EBADF', 'ECONNRESET', 'ENOTCONN', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END']);

/** Pending bytes past which new lines are dropped (per thread; a worker thread's stdout is its own stream). */
export const DEFAULT_MAX_PENDING_BYTES = 1024 * 1024;

export function createLogSink(stream: LineStream = process.stdout, maxPendingBytes = DEFAULT_MAX_PENDING_BYTES): LogSink {
  let written = 0;
  let dropped = 0;
  let deadCode: string | undefined;
  const die = (err: unknown): void => {
    const code = (err as { code?: unknown } | undefined)?.code;
    deadCode ??= typeof code === 'string' || typeof code === 'number' ? String(code) : 'EIO';
  };
  // A listener must stay attached for good: a stream that errors with none crashes the process.
  stream.on('error', (err) => {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && !FATAL.has(code)) return;
    die(err);
  });
  return {
    get written() {
      return written;
    },
    get dropped() {
      return dropped;
    },
    get deadCode() {
      return deadCode;
    },
    write(line) {
      if (deadCode !== undefined || stream.writableLength > maxPendingBytes) {
        dropped++;
        return;
      }
      try {
        // Stdout on a file or /dev/null writes synchronously and throws instead of emitting.
        stream.write(line);
        written++;
      } catch (err) {
        dropped++;
        const code = (err as { code?: unknown }).code;
        if (typeof code !== 'string' || FATAL.has(code)) die(err);
      }
    },
  };
}

let shared: LogSink | undefined;

/** The sink on this thread's stdout, created once: one error listener, one count. */
export function stdoutSink(): LogSink {
  shared ??= createLogSink();
  return shared;
}
