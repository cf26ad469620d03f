import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import type { BoardState } from '../../../web/board.js';
import { launchBrowser, pageErrors, requireBrowserSetup, type TestBrowser } from '../support/browser.js';
import { httpGet, metricValue, startTestGateway } from '../support/gateway.js';

/**
 * The live board with WebSocket blocked in the page, as behind a proxy that refuses it: every
 * WebSocket the page opens goes to a closed port (connection refused, 1006). The SDK falls back
 * to SSE by itself, the board says so, and prices keep moving with no gap.
 */
const BLOCK_WEBSOCKET = `(() => {
  const Real = window.WebSocket;
  window.WebSocket = class extends Real {
    constructor(url, protocols) { super('ws://127.0.0.1:1/blocked', protocols); }
  };
})();`;

const board = (page: Page): Promise<BoardState> => page.evaluate(() => window.__tickwire);

describe('live board (/) with WebSocket blocked', () => {
  let gw: Gateway | undefined;
  let browser: TestBrowser | undefined;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    requireBrowserSetup();
    gw = await startTestGateway();
    browser = await launchBrowser();
    page = await browser.context.newPage();
    await page.addInitScript(BLOCK_WEBSOCKET);
    errors = pageErrors(page);
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
  });

  it('falls back to SSE: the status says "open · sse" and prices keep changing, consecutive', async () => {
    await page.goto(`http://127.0.0.1:${gw!.port}/`);
    await page.waitForFunction(() => window.__tickwire?.status === 'open', undefined, { timeout: 20_000 });
    expect((await board(page)).transport).toBe('sse');
    expect(await page.textContent('#status-text')).toBe('open');
    expect(await page.textContent('#status-transport')).toBe('sse');
    expect(await page.getAttribute('#status', 'data-transport')).toBe('sse');
    expect(await page.textContent('#status-detail')).toBe('tickwire.v1.json');
    // The page tried WebSocket first (refused each time), then SSE.
    const h = (await board(page)).statusHistory;
    expect(h.filter((s) => s === 'reconnecting').length).toBeGreaterThanOrEqual(1);
    expect(h.at(-1)).toBe('open');

    await page.waitForFunction(() => document.querySelector('tr[data-symbol="BTC-USD"] .last')?.textContent?.match(/\d/), undefined, {
      timeout: 20_000,
    });
    const first = await page.textContent('tr[data-symbol="BTC-USD"] .last');
    await page.waitForFunction((p) => document.querySelector('tr[data-symbol="BTC-USD"] .last')?.textContent !== p, first, {
      timeout: 20_000,
    });
    const n = (await board(page)).ticks;
    await page.waitForFunction((k) => window.__tickwire.ticks > k + 200, n, { timeout: 20_000 });

    const s = await board(page);
    expect(s.gaps).toBe(0);
    expect(s.breaks).toBe(0);
    expect(s.resyncs).toBe(0);
    expect(s.transport).toBe('sse');
    expect(s.latency.p50).not.toBeNull();
    // The gateway sees the page as an SSE stream (plus none over WebSocket).
    const m = (await httpGet(gw!.port, '/metrics')).body;
    expect(metricValue(m, 'tickwire_sse_connections')).toBe(1);
    expect(metricValue(m, 'tickwire_connections')).toBe(1);
    expect(errors).toEqual([]);
  }, 120_000);
});
