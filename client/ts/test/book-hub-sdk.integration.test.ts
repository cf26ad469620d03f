import { WebSocket } from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../gateway/src/gateway.js';
import { BOOK_SYMBOL as SYMBOL, BOOK_UNITS as UNITS, BookScript, bookSymbolsFile } from '../../../gateway/test/support/book-script.js';
import { ManualSource, startTestGateway } from '../../../gateway/test/support/gateway.js';
import { waitFor } from '../../../gateway/test/support/wait.js';
import type { BookEvent } from '../src/book.js';
import { TickwireClient } from '../src/client.js';

/**
 * The SDK's maintained order books against the real gateway's book topics (uWS, real sockets,
 * in-process), fed by a scripted source that publishes change sets on `book.BTC-USD` and its
 * depth-10 topic as the book engine does: every view the SDK follows must hold the source's book,
 * verified, through raw and throttled views and a stale book.
 */

let gw: Gateway;
let src: ManualSource;
let script: BookScript;
const clients: TickwireClient[] = [];

beforeAll(async () => {
  src = new ManualSource();
  gw = await startTestGateway({ symbolsFile: bookSymbolsFile() }, src);
  script = new BookScript(src, 777);
  for (let i = 0; i < 50; i++) script.change();
});
afterAll(async () => {
  await gw.stop();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

describe.each(['msgpack', 'json'] as const)('client.book against the real gateway (%s)', (format) => {
  it('full, depth-10 and throttled views hold the source’s book, verified at every step, through a stale book', async () => {
    const client = new TickwireClient({ url: `ws://127.0.0.1:${gw.port}/v1`, WebSocket, format });
    clients.push(client);
    const full = client.book(SYMBOL);
    const top = client.book(SYMBOL, { depth: 10 });
    const slow = client.book(SYMBOL, { depth: 10, throttle: 100 });
    const events: BookEvent[] = [];
    for (const b of [full, top, slow]) b.onChange((ev) => events.push(ev));
    await client.connect();
    await Promise.all([full.ready, top.ready, slow.ready]);
    expect(full.units).toEqual(UNITS);
    const same = () => {
      const want = script.top(Infinity);
      const want10 = script.top();
      return (
        JSON.stringify([full.bids, full.asks]) === JSON.stringify([want.bids, want.asks]) &&
        JSON.stringify([top.bids, top.asks]) === JSON.stringify([want10.bids, want10.asks]) &&
        JSON.stringify([slow.bids, slow.asks]) === JSON.stringify([want10.bids, want10.asks])
      );
    };
    for (let i = 0; i < 200; i++) script.change();
    await waitFor(same, { what: 'every view at the source’s book', timeoutMs: 15_000 });
    expect(top.bids.length).toBe(10);

    script.change(true); // upstream rejected: the book goes stale and empty
    await waitFor(() => full.stale && top.stale && slow.stale, { what: 'stale books', timeoutMs: 15_000 });
    expect([full.bids, top.asks, slow.bids]).toEqual([[], [], []]);
    for (let i = 0; i < 30; i++) script.change();
    await waitFor(() => !full.stale && !top.stale && !slow.stale && same(), { what: 'refilled books', timeoutMs: 15_000 });
    expect(events.filter((e) => e.type === 'resyncing')).toEqual([]); // every checksum verified
    expect(events.filter((e) => e.type === 'stale').length).toBeGreaterThanOrEqual(3);

    // A second book on a topic already followed starts from a fresh server snapshot, and both go on.
    const again = client.book(SYMBOL, { depth: 10 });
    await again.ready;
    for (let i = 0; i < 20; i++) script.change();
    const want10 = () => JSON.stringify(script.top());
    await waitFor(() => JSON.stringify({ bids: again.bids, asks: again.asks }) === want10() && same(), {
      what: 'both depth-10 books at the source’s book',
      timeoutMs: 15_000,
    });
    expect(events.filter((e) => e.type === 'resyncing')).toEqual([]);
  });
});
