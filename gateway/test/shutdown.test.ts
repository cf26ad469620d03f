import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { createLogSink, type LineStream } from '../src/log-sink.js';
import { handleShutdownSignals, shutdownDeadlineMs, type Stoppable } from '../src/shutdown.js';

/** A stdout stand-in: records writes; its pending bytes and failures are set by the test. */
class FakeStdout extends EventEmitter implements LineStream {
  lines: string[] = [];
  writableLength = 0;
  throwOnWrite: NodeJS.ErrnoException | undefined;
  write(chunk: string): boolean {
    if (this.throwOnWrite) throw this.throwOnWrite;
    this.lines.push(chunk);
    return true;
  }
}

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });

describe('log sink', () => {
  it('drops lines while the reader is behind, and writes again once it caught up', () => {
    const out = new FakeStdout();
    const sink = createLogSink(out, 1000);
    sink.write('a\n');
    out.writableLength = 1001; // a reader that stopped reading: the pipe and the queue are full
    for (let i = 0; i < 100; i++) sink.write('lost\n');
    out.writableLength = 0;
    sink.write('b\n');
    expect(out.lines).toEqual(['a\n', 'b\n']);
    expect([sink.written, sink.dropped, sink.deadCode]).toEqual([2, 100, undefined]);
  });

  it('stops writing for good after EPIPE, without throwing or retrying', () => {
    const out = new FakeStdout();
    const sink = createLogSink(out);
    sink.write('a\n');
    out.emit('error', errno('EPIPE'));
    const write = vi.spyOn(out, 'write');
    for (let i = 0; i < 10; i++) sink.write('after\n');
    expect(write).not.toHaveBeenCalled();
    expect([sink.written, sink.dropped, sink.deadCode]).toEqual([1, 10, 'EPIPE']);
  });

  it('a synchronous stdout (a file) that throws: EBADF ends it, ENOSPC only drops the line', () => {
    const out = new FakeStdout();
    const sink = createLogSink(out);
    out.throwOnWrite = errno('ENOSPC');
    sink.write('full disk\n');
    expect(sink.deadCode).toBeUndefined();
    out.throwOnWrite = errno('EBADF');
    sink.write('closed\n');
    out.throwOnWrite = undefined;
    sink.write('never\n');
    expect(out.lines).toEqual([]);
    expect([sink.dropped, sink.deadCode]).toEqual([3, 'EBADF']);
  });

  it('is a pino destination: one JSON line per call', () => {
    const out = new FakeStdout();
    pino({ base: null }, createLogSink(out)).info({ port: 1 }, 'hello');
    expect(JSON.parse(out.lines[0]!)).toMatchObject({ port: 1, msg: 'hello' });
  });
});

describe('shutdown signals', () => {
  const log = pino({ level: 'silent' });
  let n = 0;
  /** A signal of its own per test (emitted on `process`, never really sent), so handlers do not mix. */
  const setup = (target: Stoppable, deadlineMs: number) => {
    const signal = (['SIGUSR2', 'SIGHUP', 'SIGWINCH', 'SIGCONT', 'SIGURG'] as const)[n++]!;
    const exits: number[] = [];
    handleShutdownSignals(target, { log, deadlineMs, exit: (code) => exits.push(code), signals: [signal] });
    return { exits, raise: () => process.emit(signal, signal) };
  };
  const never = () => new Promise<void>(() => undefined);

  it('a stop that finishes exits 0', async () => {
    const { exits, raise } = setup({ stop: async () => undefined, abort: vi.fn(async () => undefined) }, 10_000);
    raise();
    await vi.waitFor(() => expect(exits).toEqual([0]));
  });

  it('a stop that hangs is cut at the deadline: abort, then exit 1', async () => {
    const abort = vi.fn(async () => undefined);
    const { exits, raise } = setup({ stop: never, abort }, 100);
    const t0 = Date.now();
    raise();
    await vi.waitFor(() => expect(exits).toEqual([1]), { timeout: 5_000 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(95);
    expect(abort).toHaveBeenCalledTimes(1);
  });

  it('a second signal exits 1 at once, long before the deadline', async () => {
    const abort = vi.fn(async () => undefined);
    const { exits, raise } = setup({ stop: never, abort }, 60_000);
    raise();
    raise();
    await vi.waitFor(() => expect(exits).toEqual([1]), { timeout: 5_000 });
    expect(abort).toHaveBeenCalledTimes(1);
  });

  it('an abort that hangs does not hold the exit', async () => {
    const { exits, raise } = setup({ stop: never, abort: never }, 60_000);
    raise();
    raise();
    await vi.waitFor(() => expect(exits).toEqual([1]), { timeout: 5_000 });
  });

  it('the deadline is notice + grace + 5 s', () => {
    expect(shutdownDeadlineMs({ shutdownNoticeMs: 500, shutdownGraceMs: 3000 })).toBe(8500);
  });
});
