import type uWS from 'uWebSockets.js';
import { ACCEPTED_SUBPROTOCOLS, NO_OFFER_CODEC } from '../../../protocol/src/subprotocols.js';

/**
 * A plain GET on the WebSocket path (a browser tab, `curl`) is not a handshake: uWS passes it on
 * to the HTTP routes, where it used to fall to the catch-all 404 and read as "wrong URL". RFC 9110
 * §15.5.22 has the precise answer, 426 with `Upgrade: websocket`, and the body tells a human how
 * to connect instead.
 */
export function upgradeRequiredBody(host: string, tls: boolean): string {
  // The Host header is the client's own text: only a plain host[:port] is echoed back.
  const where = /^[A-Za-z0-9.\-[\]:]{1,255}$/.test(host) ? host : 'HOST:PORT';
  const subprotocols = ACCEPTED_SUBPROTOCOLS.join(', ');
  return (
    `426 Upgrade Required: /v1 is a WebSocket endpoint. Connect to ${tls ? 'wss' : 'ws'}://${where}/v1 ` +
    `offering a subprotocol (${subprotocols}; none for ${NO_OFFER_CODEC.toUpperCase()}); without WebSocket, use Server-Sent Events at ` +
    `${tls ? 'https' : 'http'}://${where}/v1/sse?topics=... See docs/protocol.md.\n`
  );
}

/** Registered after `app.ws('/v1')`, whose upgrade handler uWS tries first for a real handshake. */
export function upgradeRequiredRoute(app: uWS.TemplatedApp, tls: boolean): void {
  app.get('/v1', (res, req) => {
    const body = upgradeRequiredBody(req.getHeader('host'), tls);
    res.cork(() => {
      res
        .writeStatus('426 Upgrade Required')
        .writeHeader('upgrade', 'websocket')
        .writeHeader('connection', 'Upgrade')
        .writeHeader('content-type', 'text/plain; charset=utf-8')
        .writeHeader('cache-control', 'no-store')
        .end(body);
    });
  });
}
