import type uWS from 'uWebSockets.js';
import type { Registry } from 'prom-client';
import type { TopicInfo } from '../hub/hub.js';

export interface HttpDeps {
  ready: () => boolean;
  topics: () => TopicInfo[];
  /** Absent when metrics are disabled. */
  metrics?: Registry;
}

/** Plain HTTP endpoints served beside the WebSocket on the same port. */
export function httpRoutes(deps: HttpDeps): (app: uWS.TemplatedApp) => void {
  return (app) => {
    app.get('/healthz', (res) => json(res, '200 OK', { status: 'ok' }));
    app.get('/readyz', (res) => {
      const ready = deps.ready();
      json(res, ready ? '200 OK' : '503 Service Unavailable', { ready });
    });
    app.get('/v1/topics', (res) => json(res, '200 OK', { topics: deps.topics() }));
    const registry = deps.metrics;
    if (registry) {
      app.get('/metrics', (res) => {
        // prom-client renders asynchronously: the client may be gone by then, and uWS must not
        // be touched after onAborted fired.
        let aborted = false;
        res.onAborted(() => {
          aborted = true;
        });
        registry.metrics().then(
          (text) => {
            if (!aborted) res.cork(() => res.writeHeader('content-type', registry.contentType).end(text));
          },
          (err: Error) => {
            if (!aborted) res.cork(() => res.writeStatus('500 Internal Server Error').end(String(err.message)));
          },
        );
      });
    }
    app.any('/*', (res) => json(res, '404 Not Found', { error: 'not found' }));
  };
}

function json(res: uWS.HttpResponse, status: string, body: unknown): void {
  res.cork(() => {
    res.writeStatus(status).writeHeader('content-type', 'application/json').writeHeader('cache-control', 'no-store').end(JSON.stringify(body));
  });
}
