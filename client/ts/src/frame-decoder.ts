/**
 * Decodes the frames of one socket and delivers the messages in arrival order, even when some
 * frames decode asynchronously (compressed `msgpack+deflate` frames go through the async
 * `DecompressionStream`, plain ones decode at once). Decompression of several frames runs
 * concurrently; delivery waits for every earlier frame. While nothing is pending, a synchronous
 * frame is delivered immediately (no promise, no extra tick), so msgpack and JSON pay nothing.
 */
import { decodeServerFrame, FrameError, isPromise, type InflateRaw } from './codec.js';
import type { DecodedMessage, Format } from './types.js';

export class FrameDecoder {
  private inFlight = 0;
  private tail: Promise<void> = Promise.resolve();
  private dead = false;

  constructor(
    private readonly format: Format,
    private readonly deliver: (msg: DecodedMessage) => void,
    /** Called once with the first frame that cannot be decoded; the decoder then stops. */
    private readonly fail: (err: FrameError) => void,
    private readonly inflateRaw?: InflateRaw,
  ) {}

  /** Frames waiting for an earlier (async) frame or for their own decompression. */
  get pending(): number {
    return this.inFlight;
  }

  push(data: unknown): void {
    if (this.dead) return;
    let r: DecodedMessage | Promise<DecodedMessage>;
    try {
      r = decodeServerFrame(this.format, data, this.inflateRaw);
    } catch (e) {
      r = Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    if (this.inFlight === 0 && !isPromise(r)) {
      this.deliver(r);
      return;
    }
    this.inFlight++;
    const result = Promise.resolve(r);
    result.catch(() => {}); // handled below, in order; avoid an unhandled-rejection report meanwhile
    this.tail = this.tail.then(async () => {
      try {
        const msg = await result;
        if (!this.dead) this.deliver(msg);
      } catch (e) {
        if (!this.dead) this.stop(e);
      } finally {
        this.inFlight--;
      }
    });
  }

  private stop(e: unknown): void {
    this.dead = true;
    this.fail(e instanceof FrameError ? e : new FrameError(String((e as Error)?.message ?? e)));
  }

  /** Drops every pending frame; nothing is delivered after this. */
  cancel(): void {
    this.dead = true;
  }
}
