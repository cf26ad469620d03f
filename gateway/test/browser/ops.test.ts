import { REJECT_REASONS } from '../../../protocol/src/validate.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Gateway } from '../../src/gateway.js';
import type { OpsState } from '../../../web/ops.js';
import { counterRate, parseLine, Scrape } from '../../../web/prom.js';
import { launchBrowser, pageErrors, requireBrowserSetup, type TestBrowser } from '../support/browser.js';
import { httpGet, metricValue, startTestGateway } from '../support/gateway.js';

/** The operator view (/ops) in a real Chromium, and its Prometheus text parser against the real /metrics. */

const ops = (page: Page): Promise<OpsState> => page.evaluate(() => window.__tickwireOps);

describe('Prometheus text parser (web/prom.ts)', () => {
  it('parses names, labels with escapes, special values and timestamps', () => {
    expect(parseLine('# HELP x_total help')).toBeUndefined();
    expect(parseLine('')).toBeUndefined();
    expect(parseLine('x_total 12')).toEqual({ name: 'x_total', labels: {}, value: 12 });
    expect(parseLine('x{a="1",b="q\\"uo\\\\te\\n"} 1.5e3 1700000000000')).toEqual({
      name: 'x',
      labels: { a: '1', b: 'q"uo\\te\n' },
      value: 1500,
    });
    expect(parseLine('x{a="1",} +Inf')?.value).toBe(Infinity);
    expect(parseLine('x -Inf')?.value).toBe(-Infinity);
    expect(parseLine('x NaN')?.value).toBeNaN();
    expect(parseLine('x{a="1" 3')).toBeUndefined();
    expect(parseLine('x')).toBeUndefined();
    expect(parseLine('x{} 7')).toEqual({ name: 'x', labels: {}, value: 7 });
  });

  it('rates: counter deltas per second, a reset counts from 0', () => {
    expect(counterRate(100, 150, 0.5)).toBe(100);
    expect(counterRate(100, 30, 1)).toBe(30);
    expect(counterRate(undefined, 30, 1)).toBeUndefined();
    expect(counterRate(1, 2, 0)).toBeUndefined();
  });

  it("reads the gateway's real /metrics like the test helper does", async () => {
    const gw = await startTestGateway();
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/v1`, 'nope'); // refused: bad subprotocol
      await new Promise((r) => ws.on('error', r));
      const { body } = await httpGet(gw.port, '/metrics');
      const s = Scrape.parse(body, 0);
      for (const name of [
        'tickwire_ticks_in_total',
        'tickwire_connections',
        'tickwire_uws_native',
        'tickwire_process_resident_memory_bytes',
      ]) {
        expect(s.value(name), name).toBe(metricValue(body, name));
      }
      expect(s.value('tickwire_uws_native')).toBe(1);
      expect([...s.byLabel('tickwire_ingest_rejected_total', 'reason').keys()].sort()).toEqual([...REJECT_REASONS].sort());
      expect(Object.fromEntries(s.byLabel('tickwire_upgrades_refused_total', 'reason'))).toEqual({ subprotocol: 1 });
    } finally {
      await gw.stop();
    }
  });
});

describe('operator view (/ops)', () => {
  let gw: Gateway | undefined;
  let browser: TestBrowser | undefined;

  beforeAll(async () => {
    requireBrowserSetup();
    gw = await startTestGateway();
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
  });

  it('shows live, non-zero rates from /metrics', async () => {
    const base = `http://127.0.0.1:${gw!.port}`;
    // A board in another tab: one WebSocket connection with 14 subscriptions.
    const board = await browser!.context.newPage();
    await board.goto(`${base}/`);
    await board.waitForFunction(() => window.__tickwire?.status === 'open' && window.__tickwire.ticks > 0, undefined, { timeout: 20_000 });
    // One refused upgrade, to see the labelled table.
    const ws = new WebSocket(`ws://127.0.0.1:${gw!.port}/v1`, 'nope');
    await new Promise((r) => ws.on('error', r));

    const page = await browser!.context.newPage();
    const errors = pageErrors(page);
    await page.goto(`${base}/ops`);
    expect(await page.title()).toMatch(/ops/);
    await page.waitForFunction(
      () => (window.__tickwireOps?.polls ?? 0) >= 3 && (window.__tickwireOps.values.frames_out ?? 0) > 0,
      undefined,
      { timeout: 20_000 },
    );

    const s = await ops(page);
    expect(s.error).toBeNull();
    expect(s.values.connections).toBeGreaterThanOrEqual(1);
    expect(s.values.subscriptions).toBeGreaterThanOrEqual(14);
    expect(s.values.ticks_in).toBeGreaterThan(0);
    expect(s.values.frames_out).toBeGreaterThan(0);
    expect(s.values.bytes_out).toBeGreaterThan(0);
    expect(s.values.slow_consumers).toBe(0);
    expect(s.values.ingest_lag).toBe(0);
    expect(s.values.uws_native).toBe(1);
    expect(s.values.cpu).toBeGreaterThan(0);
    expect(s.tables.refused).toEqual({ subprotocol: 1 });
    expect(Object.keys(s.tables.rejected!).sort()).toEqual([...REJECT_REASONS].sort());

    // What a person sees.
    const shown = async (id: string) => (await page.textContent(`[data-metric="${id}"]`)) ?? '';
    expect(Number((await shown('connections')).replace(/,/g, ''))).toBeGreaterThanOrEqual(1);
    expect(Number((await shown('ticks_in')).replace(/,/g, ''))).toBeGreaterThan(0);
    expect(Number((await shown('frames_out')).replace(/,/g, ''))).toBeGreaterThan(0);
    expect(await shown('uws_native')).toBe('native');
    expect(await page.textContent('[data-table="refused"]')).toMatch(/subprotocol\s*1/);
    expect(await page.textContent('#status-text')).toMatch(/^live/);

    await page.screenshot({ path: join(tmpdir(), 'tickwire-screenshot-ops.png'), fullPage: true });
    expect(errors).toEqual([]);
  }, 120_000);
});
