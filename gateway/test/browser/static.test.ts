import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { request } from 'node:http';
import uWS from 'uWebSockets.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { builtWebDir, staticRoutes } from '../../src/transport/static.js';
import { requireBuiltWeb, WEB_DIR } from '../support/browser.js';
import { httpGet, startTestGateway } from '../support/gateway.js';

/** Raw GET (fetch would decompress and hide content-encoding). */
function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the gateway serves the built pages', () => {
  let gw: Gateway;
  beforeAll(async () => {
    requireBuiltWeb();
    gw = await startTestGateway();
  });
  afterAll(() => gw?.stop());

  it('finds dist/web from the sources (tests) as from dist/ (production)', () => {
    expect(builtWebDir()).toBe(WEB_DIR);
  });

  it('/ and /ops: HTML, revalidated every time, referencing hashed assets', async () => {
    for (const [path, script] of [
      ['/', 'board'],
      ['/ops', 'ops'],
    ] as const) {
      const r = await get(gw.port, path);
      expect(r.status, path).toBe(200);
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(r.headers['cache-control']).toBe('no-cache');
      expect(r.body.toString()).toMatch(new RegExp(`src="assets/${script}\\.js\\?v=[0-9a-f]{12}"`));
      expect(r.body.toString()).toMatch(/href="assets\/board\.css\?v=[0-9a-f]{12}"/);
    }
  });

  it('/assets/*: right content type, cached for a year, gzip when accepted, sourcemaps', async () => {
    const html = (await httpGet(gw.port, '/')).body;
    const js = /src="(assets\/board\.js\?v=[0-9a-f]+)"/.exec(html)![1]!;
    const plain = await get(gw.port, `/${js}`);
    expect(plain.status).toBe(200);
    expect(plain.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toMatch(/sourceMappingURL=board\.js\.map/);
    const gz = await get(gw.port, `/${js}`, { 'accept-encoding': 'gzip, deflate, br' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers.vary).toBe('accept-encoding');
    expect(gz.body.length).toBeLessThan(plain.body.length / 2);
    expect(gunzipSync(gz.body).equals(plain.body)).toBe(true);

    expect((await get(gw.port, '/assets/board.css')).headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await get(gw.port, '/assets/ops.js')).headers['content-type']).toBe('text/javascript; charset=utf-8');
    const map = await get(gw.port, '/assets/board.js.map');
    expect(map.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(map.body.toString()).sources.some((s: string) => s.endsWith('client/ts/src/client.ts'))).toBe(true);
  });

  it('unknown assets and paths are 404; the other routes still answer', async () => {
    const missing = await get(gw.port, '/assets/nope.js');
    expect(missing.status).toBe(404);
    expect(missing.headers['cache-control']).toBe('no-store');
    expect((await get(gw.port, '/assets/../package.json')).status).toBe(404);
    expect((await get(gw.port, '/index.html')).status).toBe(404);
    expect((await httpGet(gw.port, '/nope')).status).toBe(404);
    expect((await httpGet(gw.port, '/healthz')).status).toBe(200);
    expect((await httpGet(gw.port, '/v1/topics')).type).toBe('application/json');
    expect((await httpGet(gw.port, '/metrics')).body).toMatch(/tickwire_ticks_in_total/);
  });
});

describe('staticRoutes on a bare uWS app', () => {
  let dir: string;
  let app: uWS.TemplatedApp;
  let listen: uWS.us_listen_socket | undefined;
  let port = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tickwire-web-'));
    await mkdir(join(dir, 'assets', 'img'), { recursive: true });
    await writeFile(join(dir, 'index.html'), '<!doctype html><p>board</p>');
    await writeFile(join(dir, 'assets', 'img', 'logo.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    await writeFile(join(dir, 'assets', 'blob.bin'), Buffer.from([1, 2, 3]));
    app = uWS.App();
    staticRoutes(dir)(app); // no ops.html: /ops is not registered
    app.any('/*', (res) => {
      res.cork(() => res.writeStatus('404 Not Found').end('fallback'));
    });
    port = await new Promise<number>((resolve, reject) =>
      app.listen('127.0.0.1', 0, (s) => {
        if (!s) return reject(new Error('listen failed'));
        listen = s;
        resolve(uWS.us_socket_local_port(s));
      }),
    );
  });

  afterAll(async () => {
    if (listen) uWS.us_listen_socket_close(listen);
    (app as uWS.TemplatedApp & { close?: () => void })?.close?.();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves what exists, from memory, and leaves the rest to the next route', async () => {
    const index = await get(port, '/');
    expect(index.status).toBe(200);
    expect(index.body.toString()).toBe('<!doctype html><p>board</p>');
    const ops = await get(port, '/ops');
    expect([ops.status, ops.body.toString()]).toEqual([404, 'fallback']);
    const svg = await get(port, '/assets/img/logo.svg');
    expect([svg.status, svg.headers['content-type']]).toEqual([200, 'image/svg+xml']);
    const bin = await get(port, '/assets/blob.bin', { 'accept-encoding': 'gzip' });
    expect([bin.headers['content-type'], bin.headers['content-encoding'], [...bin.body]]).toEqual([
      'application/octet-stream',
      undefined,
      [1, 2, 3],
    ]);
    // Files are read once, when the routes are created.
    await writeFile(join(dir, 'index.html'), 'changed');
    expect((await get(port, '/')).body.toString()).toBe('<!doctype html><p>board</p>');
  });
});
