import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway.js';
import { TestClient } from './support/client.js';
import { startTestGateway } from './support/gateway.js';

/**
 * Issue 17 point 4: `npx wscat -c ws://HOST/v1` offers no subprotocol and is a person reading a terminal,
 * so it gets JSON (text frames, errors included), not msgpack bytes. Browsers and the SDKs always offer one.
 */
describe('a client that offers no subprotocol', () => {
  let gw: Gateway;
  const clients: TestClient[] = [];
  beforeAll(async () => {
    gw = await startTestGateway({ feedRate: 1_000 });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await gw.stop();
  });
  const bare = async () => {
    const c = await TestClient.connect(gw.port, { protocols: [] });
    clients.push(c);
    return c;
  };

  it('gets JSON text frames and no Sec-WebSocket-Protocol back', async () => {
    const c = await bare();
    expect(c.ws.protocol).toBe('');
    c.send('{"op":"sub","id":1,"topics":["trade.BTC-USD"]}');
    const ack = await c.waitFor((m) => m.op === 'ack');
    expect(ack).toEqual({ op: 'ack', id: 1, topics: ['trade.BTC-USD'], __binary: false });
    const snap = await c.waitFor((m) => m.op === 'snap' && m.topic === 'trade.BTC-USD');
    expect(snap.__binary).toBe(false);
  });

  it('gets bad_frame as JSON, for a binary frame and for text that is not JSON', async () => {
    const c = await bare();
    c.send(Buffer.from([0x81, 0xa2, 0x6f, 0x70]));
    const binary = await c.waitFor((m) => m.op === 'err');
    expect(binary).toMatchObject({ op: 'err', code: 'bad_frame', __binary: false, msg: expect.stringMatching(/text JSON/) });
    const from = c.messages.length;
    c.send('not json');
    expect(await c.waitFor((m) => m.op === 'err', undefined, from)).toMatchObject({ code: 'bad_frame', __binary: false });
  });

  it('the 400 for unknown subprotocols says that none means JSON', async () => {
    const err = await TestClient.connect(gw.port, { protocols: ['mqtt'] }).then(
      () => undefined,
      (e: { status?: number; body?: string }) => e,
    );
    expect(err?.status).toBe(400);
    expect(err?.body).toMatch(/\(or none for JSON\)/);
  });

  it('the 426 on a plain GET says that none means JSON', async () => {
    const res = await fetch(`http://127.0.0.1:${gw.port}/v1`);
    expect(res.status).toBe(426);
    expect(await res.text()).toMatch(/none for JSON/);
  });
});
