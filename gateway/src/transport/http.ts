import { timingSafeEqual } from 'node:crypto';
import { Packr } from 'msgpackr';
import type uWS from 'uWebSockets.js';
import type { Registry } from 'prom-client';
import type { TopicInfo } from '../hub/hub.js';
import type { Failures } from '../failures.js';
import type { PayloadLimits } from '../../../protocol/src/payload.js';
import type { Payload } from '../../../protocol/src/ticks.js';
import type { SymbolDirectory } from '../symbols/directory.js';
import { parsePublishBody } from './publish-body.js';
import { answerSnapshot, isSnapshotRefusal, type SnapshotDeps } from './snapshot.js';
import { answerCandles, isCandlesRefusal, type CandlesDeps } from './candles.js';
import { staticRoutes } from './static.js';

/** What GET /metrics renders: a prom-client Registry, or the aggregate over workers. */
export type MetricsEndpoint = Pick<Registry, 'contentType' | 'metrics'>;

export interface HttpDeps {
  ready: () => boolean;
  topics: () => TopicInfo[];
  /** Absent when metrics are disabled. */
  metrics?: MetricsEndpoint;
  /** When set, /metrics requires `Authorization: Bearer <metricsToken>`. */
  metricsToken?: string;
  /** The admin surface; absent (404) without an admin token. */
  admin?: { token: string; publish: (topic: string, data: Payload) => void; limits: PayloadLimits; failures?: Failures };
  /** GET /v1/symbols; absent: no directory configured (the route answers 404 with a reason). */
  symbols?: SymbolDirectory;
  /** GET /v1/snapshot. */
  snapshot?: SnapshotDeps;
  /** GET /v1/candles; absent: no candle history here (404). */
  candles?: CandlesDeps;
  /** Directory of the built web pages (dist/web: `/`, `/ops`, `/assets/*`); absent: no pages. */
  web?: string;
}

/** Largest POST /v1/publish body. */
const MAX_PUBLISH_BYTES = 1024 * 1024;

/** Plain HTTP endpoints served beside the WebSocket on the same port. */
export function httpRoutes(deps: HttpDeps): (app: uWS.TemplatedApp) => void {
  return (app) => {
    app.get('/healthz', (res) => json(res, '200 OK', { status: 'ok' }));
    app.get('/readyz', (res) => {
      const ready = deps.ready();
      json(res, ready ? '200 OK' : '503 Service Unavailable', { ready });
    });
    app.get('/v1/topics', (res) => json(res, '200 OK', { topics: deps.topics() }));
    app.get('/v1/symbols', (res, req) => {
      const msgpack = wantsMsgpack(req);
      const dir = deps.symbols;
      if (!dir) return reply(res, '404 Not Found', { error: 'no symbol directory configured (symbolsFile or symbolsTopic)' }, msgpack);
      reply(res, '200 OK', { source: dir.source, symbols: dir.list() }, msgpack);
    });
    const snapshot = deps.snapshot;
    if (snapshot) {
      app.get('/v1/snapshot', (res, req) => {
        const msgpack = wantsMsgpack(req);
        const request = {
          topics: req.getQuery('topics') ?? '',
          authz: req.getHeader('authorization'),
          queryToken: req.getQuery('access_token') ?? '',
          now: Date.now(),
        };
        const answer = answerSnapshot(snapshot, request);
        if (isSnapshotRefusal(answer)) return reply(res, answer.status, answer.body, msgpack);
        reply(res, '200 OK', answer, msgpack);
      });
    }
    const candles = deps.candles;
    if (candles) {
      app.get('/v1/candles', (res, req) => {
        const msgpack = wantsMsgpack(req);
        const answer = answerCandles(candles, {
          topic: req.getQuery('topic') ?? '',
          limit: req.getQuery('limit') ?? '',
          before: req.getQuery('before') ?? '',
          authz: req.getHeader('authorization'),
          queryToken: req.getQuery('access_token') ?? '',
          now: Date.now(),
        });
        const send = (a: Awaited<typeof answer>): void =>
          isCandlesRefusal(a) ? reply(res, a.status, a.body, msgpack) : reply(res, '200 OK', a, msgpack);
        if (!(answer instanceof Promise)) return send(answer);
        // With workers the primary answers: the client may be gone by then, and uWS must not be touched after onAborted.
        let aborted = false;
        res.onAborted(() => {
          aborted = true;
        });
        void answer.then((a) => {
          if (!aborted) send(a);
        });
      });
    }
    const registry = deps.metrics;
    if (registry) {
      app.get('/metrics', (res, req) => {
        if (deps.metricsToken && !bearerIs(req.getHeader('authorization'), deps.metricsToken))
          return json(res, '401 Unauthorized', { error: 'admin token required' });
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
    const admin = deps.admin;
    if (admin) app.post('/v1/publish', (res, req) => publishRoute(res, req, admin));
    if (deps.web) staticRoutes(deps.web)(app);
    app.any('/*', (res) => json(res, '404 Not Found', { error: 'not found' }));
  };
}

function bearerIs(header: string, token: string): boolean {
  const got = Buffer.from(header.startsWith('Bearer ') ? header.slice(7).trim() : '');
  const want = Buffer.from(token);
  return got.length === want.length && timingSafeEqual(got, want);
}

/**
 * POST /v1/publish (admin token): `{"topic": "user.<sub>.<stream>" | "sys.announce", "data": {...}}`
 * or `{"messages": [{topic, data}, ...]}`. Market topics come only from the source, never from here.
 */
function publishRoute(res: uWS.HttpResponse, req: uWS.HttpRequest, admin: NonNullable<HttpDeps['admin']>): void {
  if (!bearerIs(req.getHeader('authorization'), admin.token)) return json(res, '401 Unauthorized', { error: 'admin token required' });
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  const chunks: Buffer[] = [];
  let size = 0;
  res.onData((chunk, last) => {
    if (aborted) return;
    size += chunk.byteLength;
    if (size > MAX_PUBLISH_BYTES) {
      aborted = true;
      return json(res, '413 Payload Too Large', { error: `body over ${MAX_PUBLISH_BYTES} bytes` });
    }
    chunks.push(Buffer.from(chunk.slice(0))); // uWS reuses the chunk's memory after this call
    if (!last) return;
    // uWS runs this handler from native code: an exception escaping it ends the process (or,
    // with workers, aborts it), so none may.
    try {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return json(res, '400 Bad Request', { error: 'body must be JSON', reason: 'bad_json' });
      }
      const parsed = parsePublishBody(body, admin.limits);
      if (!parsed.ok) return json(res, '400 Bad Request', { error: parsed.error, reason: parsed.reason });
      for (const m of parsed.messages) admin.publish(m.topic, m.data);
      json(res, '202 Accepted', { accepted: parsed.messages.length });
    } catch (e) {
      if (!admin.failures) throw e;
      admin.failures.record('publish', e);
      json(res, '500 Internal Server Error', { error: 'internal error', reason: 'internal' });
    }
  });
}

const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false });

/** msgpack when the client asks for it (`Accept: application/msgpack`), JSON otherwise. */
function wantsMsgpack(req: uWS.HttpRequest): boolean {
  return req.getHeader('accept').includes('application/msgpack');
}

function reply(res: uWS.HttpResponse, status: string, body: unknown, msgpack: boolean): void {
  if (!msgpack) return json(res, status, body);
  const bytes = packr.pack(body);
  res.cork(() => {
    res.writeStatus(status).writeHeader('content-type', 'application/msgpack').writeHeader('cache-control', 'no-store');
    res.end(bytes);
  });
}

function json(res: uWS.HttpResponse, status: string, body: unknown): void {
  res.cork(() => {
    res
      .writeStatus(status)
      .writeHeader('content-type', 'application/json')
      .writeHeader('cache-control', 'no-store')
      .end(JSON.stringify(body));
  });
}
