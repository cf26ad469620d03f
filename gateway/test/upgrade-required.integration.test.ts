import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway.js';
import { upgradeRequiredBody } from '../src/transport/upgrade-required.js';
import { TestClient } from './support/client.js';
import { ManualSource, startTestGateway } from './support/gateway.js';

// Issue 17 point 4: `curl http://HOST:PORT/v1` (no upgrade) said 404, which reads as "wrong URL".
describe('GET /v1 without a WebSocket upgrade', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startTestGateway({}, new ManualSource());
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('answers 426 Upgrade Required, Upgrade: websocket, and one line saying how to connect', async () => {
    const res = await fetch(`http://127.0.0.1:${gw.port}/v1`);
    const body = await res.text();
    expect(res.status).toBe(426);
    expect(res.headers.get('upgrade')).toBe('websocket');
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(body.trimEnd().split('\n')).toHaveLength(1);
    expect(body).toContain(`ws://127.0.0.1:${gw.port}/v1`);
    for (const p of [
      'tickwire.v1.msgpack',
      'tickwire.v1.json',
      'tickwire.v1.msgpack+deflate',
      'tickwire.v1.msgpack-compact',
      'tickwire.v1.msgpack-compact+deflate.d1',
    ])
      expect(body).toContain(p);
    expect(body).toContain(`http://127.0.0.1:${gw.port}/v1/sse`);
    expect(body).toContain('docs/protocol.md');
  });

  it('does not echo a Host header that is not a plain host[:port]', async () => {
    const { request } = await import('node:http');
    const body = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: gw.port, path: '/v1', headers: { host: '<script>x</script>' } }, (res) => {
        let text = '';
        res
          .setEncoding('utf8')
          .on('data', (d: string) => (text += d))
          .on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject).end();
    });
    expect(body.status).toBe(426);
    expect(body.text).not.toContain('<script>');
    expect(body.text).toContain('ws://HOST:PORT/v1');
  });

  it('keeps the WebSocket upgrade on the same path working', async () => {
    const c = await TestClient.connect(gw.port, { protocols: ['tickwire.v1.json'] });
    try {
      expect(c.ws.protocol).toBe('tickwire.v1.json');
      c.send({ op: 'ping', id: 5 });
      expect(await c.waitFor((m) => m.op === 'pong')).toMatchObject({ op: 'pong', id: 5 });
    } finally {
      c.close();
    }
  });

  it('other unknown paths still answer 404', async () => {
    expect((await fetch(`http://127.0.0.1:${gw.port}/v2`)).status).toBe(404);
  });

  it('names wss:// and https:// on a TLS listener', () => {
    const body = upgradeRequiredBody('md.example.com:443', true);
    expect(body).toContain('wss://md.example.com:443/v1');
    expect(body).toContain('https://md.example.com:443/v1/sse');
  });
});
