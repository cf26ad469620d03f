import { afterAll, expect, it } from 'vitest';
import { Book, bookChecksum, type BookChange } from '../../protocol/src/book.js';
import type { Gateway } from '../src/gateway.js';
import { TestClient } from './support/client.js';
import { startTestGateway } from './support/gateway.js';

let gw: Gateway | undefined;
afterAll(async () => gw?.stop());
const U = { tick: 0.01, lot: 0.00001 };
/**
 * Embedded feed → book engine → hub → WebSocket: a client that applies the snap and every change
 * set of book.BTC-USD:10 (consecutive seq, every checksum verified, never more than 10 levels)
 * holds, at the seq of a second client's snapshot, exactly that snapshot's levels.
 */
it('embedded feed books end to end', async () => {
  gw = await startTestGateway({ source: 'embedded', feedRate: 2000 });
  const T = 'book.BTC-USD:10';
  const a = await TestClient.connect(gw.port);
  a.send({ op: 'sub', id: 1, topics: [T, 'quote.BTC-USD'] });
  await a.waitFor((m) => m.topic === T && m.op === 'upd' && m.seq > 300, 20_000);
  const b = await TestClient.connect(gw.port);
  b.send({ op: 'sub', id: 1, topics: [T] });
  const snapB = await b.waitFor((m) => m.topic === T && m.op === 'snap');
  await a.waitFor((m) => m.topic === T && m.op === 'upd' && m.seq + (m.data as unknown[]).length - 1 >= snapB.seq, 20_000);
  const book = new Book();
  let seq = 0;
  let checked = 0;
  let atB: string | undefined;
  for (const m of a.topicMessages(T)) {
    if (m.op === 'snap') {
      const d = m.data as { bids: [number, number][]; asks: [number, number][]; cs: number };
      book.apply(d.bids, d.asks);
      expect(d.cs).toBe(bookChecksum(d.bids, d.asks, U));
      seq = m.seq;
    } else {
      expect(m.seq).toBe(seq + 1);
      for (const c of m.data as BookChange[]) {
        book.apply(c.b, c.a);
        seq++;
        expect(c.cs).toBe(book.checksum(U));
        expect(book.bids.px.length).toBeLessThanOrEqual(10);
        checked++;
        if (seq === snapB.seq) atB = JSON.stringify([book.bids.levels(10), book.asks.levels(10)]);
      }
    }
  }
  const d = snapB.data as { bids: unknown; asks: unknown };
  expect(atB).toBe(JSON.stringify([d.bids, d.asks]));
  expect(checked).toBeGreaterThan(0);
  expect(seq).toBeGreaterThan(300); // followed consecutively from its own snap to past seq 300
  a.close();
  b.close();
});
