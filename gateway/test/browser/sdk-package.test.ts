import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packAndInstall, type InstalledProject } from '../../../client/ts/test/support/packed.js';
import type { Gateway } from '../../src/gateway.js';
import { CHROMIUM, launchBrowser, pageErrors, type TestBrowser } from '../support/browser.js';
import { startTestGateway } from '../support/gateway.js';

/**
 * Issue 17 point 1, the browser half of client/ts/test/package.integration.test.ts: the packed SDK,
 * installed into a fresh project, bundled by esbuild for the browser from that project (so the exports
 * map and the browser-safe entry are what resolves), served from a plain HTTP server and run in Chromium
 * against a real gateway.
 */
const PAGE_ENTRY = `
import { TickwireClient } from '@tickwire/client';

const state = (window.__sdk = { statuses: [], subprotocol: '', first: '', seqs: [], error: '' });
const client = new TickwireClient({ url: new URLSearchParams(location.search).get('ws'), transport: 'websocket' });
client.onStatus((s) => {
  state.statuses.push(s.state);
  if (s.state === 'open') state.subprotocol = s.subprotocol ?? '';
});
client.subscribe('trade.BTC-USD', (ev) => {
  if (ev.type === 'snap') state.first = 'snap';
  else if (ev.type === 'tick') state.seqs.push(ev.seq);
  else state.error = 'unexpected ' + ev.type;
});
client.connect().catch((e) => (state.error = String(e)));
`;
const HTML = '<!doctype html><meta charset="utf-8"><title>sdk</title><script type="module" src="/app.js"></script>';

interface PageState {
  statuses: string[];
  subprotocol: string;
  first: string;
  seqs: number[];
  error: string;
}
declare global {
  interface Window {
    __sdk: PageState;
  }
}

describe('@tickwire/client, packed, bundled for the browser, in Chromium', () => {
  let project: InstalledProject | undefined;
  let gw: Gateway | undefined;
  let browser: TestBrowser | undefined;
  let server: Server | undefined;
  let page: Page;
  let errors: string[];
  let origin = '';

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run bash scripts/prereqs.sh or set TICKWIRE_CHROMIUM`);
    [project, gw] = await Promise.all([packAndInstall(), startTestGateway({ feedRate: 2_000 })]);
    await writeFile(join(project.dir, 'app.js'), PAGE_ENTRY);
    const bundle = await build({
      absWorkingDir: project.dir,
      entryPoints: ['app.js'],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    });
    const js = bundle.outputFiles[0]!.text;
    server = createServer((req, res) => {
      const isJs = req.url === '/app.js';
      res.writeHead(200, { 'content-type': isJs ? 'text/javascript' : 'text/html; charset=utf-8' }).end(isJs ? js : HTML);
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    browser = await launchBrowser();
    page = await browser.context.newPage();
    errors = pageErrors(page);
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await gw?.stop();
    await project?.remove();
  });

  it('connects, offers a subprotocol, and receives a snapshot then consecutive ticks', async () => {
    await page.goto(`${origin}/?ws=${encodeURIComponent(`ws://127.0.0.1:${gw!.port}/v1`)}`);
    await page.waitForFunction(() => window.__sdk?.error !== '' || window.__sdk?.seqs.length >= 20, undefined, { timeout: 30_000 });
    const state = await page.evaluate(() => window.__sdk);
    expect(state.error).toBe('');
    expect(state.statuses).toContain('open');
    expect(state.subprotocol).toBe('tickwire.v1.msgpack');
    expect(state.first).toBe('snap');
    state.seqs.forEach((s, i) => i > 0 && expect(s).toBe(state.seqs[i - 1]! + 1));
    expect(errors).toEqual([]);
  });
});
