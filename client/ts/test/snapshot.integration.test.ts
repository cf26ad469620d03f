import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../gateway/src/gateway.js';
import { startTestGateway } from '../../../gateway/test/support/gateway.js';
import { waitFor } from '../../../gateway/test/support/wait.js';
import { TickwireClient } from '../src/client.js';
import { TickwireError } from '../src/errors.js';
import { snapshotEndpointOf } from '../src/snapshot.js';
import { TEST_JWT_SECRET, testJwt } from '../../../gateway/test/support/jwt.js';

describe('client.snapshot (GET /v1/snapshot) against a real gateway', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startTestGateway({ authMode: 'jwt', jwtSecret: TEST_JWT_SECRET, feedRate: 2000, feedSymbols: 'BTC-USD,ETH-USD' });
  });
  afterAll(() => gw?.stop());

  it('derives the endpoint from the WebSocket URL, token included', () => {
    expect(snapshotEndpointOf('wss://h.example/v1/?access_token=T')).toEqual({
      url: 'https://h.example/v1/snapshot',
      headers: { authorization: 'Bearer T' },
    });
    expect(snapshotEndpointOf('ws://127.0.0.1:9001/v1').url).toBe('http://127.0.0.1:9001/v1/snapshot');
  });

  it('returns the snaps keyed by topic, and per-topic errors, without connecting', async () => {
    const token = await testJwt({ sub: 'alice', topics: ['trade.*'] });
    const client = new TickwireClient({ url: `ws://127.0.0.1:${gw.port}/v1?access_token=${token}`, WebSocket });
    const topics = ['trade.BTC-USD', 'trade.ETH-USD', 'quote.BTC-USD', 'trade.DOGE-USDT'];
    const snap = await waitFor(
      async () => {
        const s = await client.snapshot(topics);
        return s.snaps['trade.BTC-USD'] && s.snaps['trade.ETH-USD'] ? s : undefined;
      },
      { what: 'snaps of both trade topics' },
    );
    expect(Object.keys(snap.snaps).sort()).toEqual(['trade.BTC-USD', 'trade.ETH-USD']);
    expect(snap.snaps['trade.BTC-USD']).toMatchObject({ topic: 'trade.BTC-USD', epoch: gw.epoch, data: { px: expect.any(Number) } });
    expect(snap.snaps['trade.BTC-USD']!.seq).toBeGreaterThan(0);
    expect(snap.errors).toEqual({
      'quote.BTC-USD': { code: 'forbidden', msg: expect.any(String) },
      'trade.DOGE-USDT': { code: 'unknown_symbol', msg: expect.stringContaining('/v1/symbols') },
    });
  });

  it('rejects a refused request with the server code', async () => {
    const client = new TickwireClient({ url: `ws://127.0.0.1:${gw.port}/v1`, WebSocket });
    const err = await client.snapshot(['trade.BTC-USD']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TickwireError);
    expect(err).toMatchObject({ code: 'unauthorized' });
  });
});
