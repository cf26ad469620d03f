import type uWS from 'uWebSockets.js';
import type { Metrics } from '../metrics.js';
import type { Refusal } from './gate.js';

/** Refused while the gateway shuts down (transports that can still see new attempts then). */
export const SHUTTING_DOWN: Refusal = {
  status: '503 Service Unavailable',
  reason: 'shutting_down',
  body: 'the gateway is shutting down; reconnect to another instance',
};

/**
 * Answers a refused connection attempt (WebSocket upgrade or SSE request): the status, the
 * reason as plain text, counted in tickwire_upgrades_refused_total. `noStore` for responses a
 * cache could otherwise keep (a plain GET: SSE).
 */
export function refuse(res: uWS.HttpResponse, r: Refusal, metrics: Pick<Metrics, 'refused'>, noStore: boolean): void {
  metrics.refused.inc({ reason: r.reason });
  res.writeStatus(r.status).writeHeader('content-type', 'text/plain; charset=utf-8');
  if (noStore) res.writeHeader('cache-control', 'no-store');
  res.end(`${r.body}\n`);
}
