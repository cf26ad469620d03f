import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import type { BoardState } from '../../../web/board.js';
import { openBoard, requireBrowserSetup, type BoardPage } from '../support/browser.js';
import { waitFor } from '../support/wait.js';

/**
 * The board as a user shapes it (issue 17, point 5): sizes and the age of the last update, adding
 * and removing symbols (kept across a reload, reset with "Show all"), and a layout that fits a
 * phone (390 px) without overlapping the header or scrolling sideways.
 */
const SYMBOLS = ['AAPL', 'BTC-USD', 'ETH-USD', 'EUR-USD', 'MSFT', 'NVDA', 'SOL-USD'];
const board = (page: Page): Promise<BoardState> => page.evaluate(() => window.__tickwire);
const rowSymbols = (page: Page): Promise<string[]> =>
  page.$$eval('#rows tr[data-symbol]', (trs) => trs.map((tr) => (tr as HTMLElement).dataset.symbol as string));
const cell = async (page: Page, symbol: string, cls: string): Promise<string> =>
  (await page.textContent(`tr[data-symbol="${symbol}"] .${cls}`)) ?? '';
const NUMBER = /^\d{1,3}(,\d{3})*(\.\d+)?$/;

describe('live board: sizes, age, watchlist, phone layout', () => {
  let open: BoardPage | undefined;
  let gw: Gateway;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    requireBrowserSetup();
    open = await openBoard({ feedRate: 2000 });
    ({ gw, page, errors } = open);
    await page.waitForFunction((n) => document.querySelectorAll('#rows tr[data-symbol]').length === n, SYMBOLS.length, { timeout: 20_000 });
  });

  afterAll(async () => {
    await open?.close();
  });

  it('shows the last trade size, bid and ask sizes, and the age of the last update', async () => {
    const filled = () =>
      Array.from(document.querySelectorAll('#rows tr[data-symbol]')).every((tr) =>
        ['.qty', '.bsz', '.asz'].every((c) => !['—', ''].includes(tr.querySelector(c)?.textContent ?? '')),
      );
    await page.waitForFunction(filled, undefined, { timeout: 20_000 });
    const s = await board(page);
    for (const sym of SYMBOLS) {
      const r = s.rows[sym]!;
      expect(r.qty! > 0 && r.bsz! > 0 && r.asz! > 0, sym).toBe(true);
      for (const c of ['qty', 'bsz', 'asz']) expect(await cell(page, sym, c), `${sym} ${c}`).toMatch(NUMBER);
    }
    // The age is time since the row's last tick or quote: at 2 000 ticks/s, well under 10 s.
    await page.waitForFunction(
      () => /^\d+\.\d s$/.test(document.querySelector('tr[data-symbol="BTC-USD"] .age')?.textContent ?? ''),
      undefined,
      {
        timeout: 20_000,
      },
    );
    const age = Number.parseFloat(await cell(page, 'BTC-USD', 'age'));
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThan(10);
    expect(await page.$eval('tr[data-symbol="BTC-USD"] .age', (e) => e.classList.contains('stale-age'))).toBe(false);
  });

  it('removes a symbol (its subscriptions end), adds one back, refuses a malformed one, keeps the list across a reload', async () => {
    const subsBefore = gw.hub.subscriptions;
    // trade, quote and stats; a gateway without 24 h statistics refused the stats topic.
    const topics = (await board(page)).rows.NVDA!.stats === 'unavailable' ? 2 : 3;
    await page.click('tr[data-symbol="NVDA"] .remove');
    expect(await rowSymbols(page)).toEqual(SYMBOLS.filter((s) => s !== 'NVDA'));
    expect((await board(page)).watchlist).toBe('custom');
    // Its topics are unsubscribed at the gateway.
    await waitFor(() => gw.hub.subscriptions === subsBefore - topics, { what: `${topics} fewer subscriptions at the gateway` });
    expect(await page.isVisible('#show-all')).toBe(true);

    await page.fill('#add-symbol', 'not a symbol!');
    await page.press('#add-symbol', 'Enter');
    expect(await page.textContent('#add-error')).toMatch(/is not a symbol/);
    expect(await rowSymbols(page)).toHaveLength(SYMBOLS.length - 1);

    await page.fill('#add-symbol', 'nvda'); // lower case is taken as the symbol it means
    await page.click('#add-form button[type="submit"]');
    await page.waitForFunction(
      () => !['—', ''].includes(document.querySelector('tr[data-symbol="NVDA"] .last')?.textContent ?? ''),
      undefined,
      {
        timeout: 20_000,
      },
    );
    expect(await rowSymbols(page)).toEqual(SYMBOLS);
    expect(await page.isHidden('#add-error')).toBe(true);

    // A symbol the gateway has no data for: a row that says so, not an error.
    await page.fill('#add-symbol', 'ZZZ-NONE');
    await page.press('#add-symbol', 'Enter');
    await page.waitForSelector('tr[data-symbol="ZZZ-NONE"]');
    expect(await cell(page, 'ZZZ-NONE', 'age')).toBe('no data');
    await page.click('tr[data-symbol="MSFT"] .remove');

    await page.reload();
    const expected = [...SYMBOLS.filter((s) => s !== 'MSFT'), 'ZZZ-NONE'].sort();
    await page.waitForFunction((n) => document.querySelectorAll('#rows tr[data-symbol]').length === n, expected.length, {
      timeout: 20_000,
    });
    expect(await rowSymbols(page)).toEqual(expected);

    await page.click('#show-all');
    await page.waitForFunction((n) => document.querySelectorAll('#rows tr[data-symbol]').length === n, SYMBOLS.length, { timeout: 20_000 });
    expect(await rowSymbols(page)).toEqual(SYMBOLS);
    expect((await board(page)).watchlist).toBe('gateway');
    expect(await page.isHidden('#show-all')).toBe(true);
    expect(errors).toEqual([]);
  });

  for (const viewport of [
    { name: 'phone', width: 390, height: 844 },
    { name: 'desktop', width: 1280, height: 800 },
  ]) {
    it(`fits a ${viewport.name} (${viewport.width} px): no sideways scroll, no overlap in the header`, async () => {
      await page.setViewportSize({ width: viewport.width, height: viewport.height });
      await page.waitForFunction(
        () => !['—', ''].includes(document.querySelector('tr[data-symbol="AAPL"] .last')?.textContent ?? ''),
        undefined,
        {
          timeout: 20_000,
        },
      );
      const layout = await page.evaluate(() => {
        const box = (e: Element) => e.getBoundingClientRect();
        const header = ['.brand', '#status', '.kpis', '.ops-link'].map((s) => box(document.querySelector(s)!));
        const overlaps: string[] = [];
        header.forEach((a, i) =>
          header.slice(i + 1).forEach((b, j) => {
            if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) overlaps.push(`${i}/${i + j + 1}`);
          }),
        );
        const rowsRight = Math.max(...Array.from(document.querySelectorAll('#rows tr[data-symbol] td')).map((td) => box(td).right));
        return {
          scrollWidth: document.documentElement.scrollWidth,
          overlaps,
          rowsRight,
          qtyVisible: box(document.querySelector('#rows .qty')!).width > 0,
        };
      });
      expect(layout.overlaps).toEqual([]);
      expect(layout.scrollWidth).toBeLessThanOrEqual(viewport.width);
      expect(layout.rowsRight).toBeLessThanOrEqual(viewport.width);
      expect(layout.qtyVisible).toBe(true);
      expect(errors).toEqual([]);
    });
  }
});
