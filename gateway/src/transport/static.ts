import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type uWS from 'uWebSockets.js';

/**
 * The built web pages (scripts/build-web.mjs → dist/web/): the live board at `/`, the operator
 * view at `/ops`, their bundles under `/assets/*`. Every file is read (and gzipped) once, when
 * the routes are created; a request is answered synchronously from memory, in one cork, so no
 * onAborted is needed. The HTML is `no-cache` (always revalidated, so a new build shows at
 * once); assets are cached for a year, which is safe because the HTML references them with a
 * `?v=<content hash>` query that changes with every build.
 */

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};
const HTML_CACHE = 'no-cache';
const ASSET_CACHE = 'public, max-age=31536000, immutable';

interface StaticFile {
  body: Buffer;
  /** Present when gzip makes the file smaller. */
  gzip: Buffer | undefined;
  type: string;
  cache: string;
}

function load(path: string, cache: string): StaticFile {
  const body = readFileSync(path);
  const type = TYPES[extname(path)] ?? 'application/octet-stream';
  const compressible = type.startsWith('text/') || type.startsWith('application/json') || type === 'image/svg+xml';
  const gz = compressible && body.length > 512 ? gzipSync(body, { level: 9 }) : undefined;
  return { body, gzip: gz && gz.length < body.length ? gz : undefined, type, cache };
}

/** Files under `dir`, recursively, as paths relative to it with `/` separators. */
function listFiles(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name), `${prefix}${e.name}/`) : e.isFile() ? [prefix + e.name] : [],
  );
}

function send(res: uWS.HttpResponse, req: uWS.HttpRequest, f: StaticFile | undefined): void {
  const gzip = f?.gzip !== undefined && /\bgzip\b/.test(req.getHeader('accept-encoding'));
  res.cork(() => {
    if (!f) {
      res
        .writeStatus('404 Not Found')
        .writeHeader('content-type', 'text/plain; charset=utf-8')
        .writeHeader('cache-control', 'no-store')
        .end('not found');
      return;
    }
    res.writeHeader('content-type', f.type).writeHeader('cache-control', f.cache).writeHeader('x-content-type-options', 'nosniff');
    if (f.gzip) res.writeHeader('vary', 'accept-encoding');
    if (gzip) res.writeHeader('content-encoding', 'gzip');
    res.end(gzip ? f.gzip : f.body);
  });
}

/**
 * GET `/` (index.html), `/ops` (ops.html) and `/assets/*` from `dir`. A page missing from `dir`
 * is not registered (the transport's 404 answers); an unknown asset gets 404. Register these
 * before the catch-all 404 route.
 */
export function staticRoutes(dir: string): (app: uWS.TemplatedApp) => void {
  const pages: [string, string][] = [
    ['/', 'index.html'],
    ['/ops', 'ops.html'],
  ];
  const html = new Map(
    pages.filter(([, file]) => existsSync(join(dir, file))).map(([route, file]) => [route, load(join(dir, file), HTML_CACHE)]),
  );
  const assets = new Map(listFiles(join(dir, 'assets')).map((rel) => [`/assets/${rel}`, load(join(dir, 'assets', rel), ASSET_CACHE)]));
  return (app) => {
    for (const [route, file] of html) app.get(route, (res, req) => send(res, req, file));
    // getUrl() has no query string: `/assets/board.js?v=…` looks up `/assets/board.js`.
    app.get('/assets/*', (res, req) => send(res, req, assets.get(req.getUrl())));
  };
}

/**
 * Where the built pages are: `dist/web/` beside the compiled gateway
 * (dist/gateway/src/transport/static.js → dist/web/), or, when the gateway runs from its
 * TypeScript sources (tests), the repository's dist/web/. undefined when the pages were not
 * built. A directory without `assets/` (the `web/` sources themselves) does not count.
 */
export function builtWebDir(): string | undefined {
  for (const rel of ['../../../web/', '../../../dist/web/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(join(dir, 'index.html')) && existsSync(join(dir, 'assets'))) return dir;
  }
  return undefined;
}
