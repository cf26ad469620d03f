import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { Config } from '../../src/config/schema.js';
import type { Gateway } from '../../src/gateway.js';
import { startTestGateway } from './gateway.js';
import { waitFor } from './wait.js';
import { ROOT } from './process.js';

/**
 * Browser tests drive the system's Chromium (Debian's /usr/bin/chromium) with playwright-core:
 * no test tool may download a browser here. TICKWIRE_CHROMIUM points elsewhere.
 */
export const CHROMIUM = process.env.TICKWIRE_CHROMIUM ?? '/usr/bin/chromium';
export const WEB_DIR = `${ROOT}dist/web/`;

/** Fails early, with the fix, when the built pages are missing. */
export function requireBuiltWeb(): void {
  if (!existsSync(`${WEB_DIR}index.html`))
    throw new Error(`${WEB_DIR}index.html is missing: run "node scripts/build-web.mjs" (npm run build does it)`);
}

/** Fails early, with the fix, when Chromium or the built pages are missing. */
export function requireBrowserSetup(): void {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: run bash scripts/prereqs.sh (npm test does; installs Debian's chromium) or set TICKWIRE_CHROMIUM`,
    );
  requireBuiltWeb();
}

const ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface TestBrowser {
  context: BrowserContext;
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

/** Chromium with a fresh profile in a temporary directory. */
export async function launchBrowser(): Promise<TestBrowser> {
  const userDataDir = await mkdtemp(join(tmpdir(), 'tickwire-chromium-'));
  const cleanup = () => rm(userDataDir, { recursive: true, force: true });
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1280, height: 660 },
      deviceScaleFactor: 1,
      timeout: 20_000,
    });
  } catch (e) {
    await cleanup();
    throw e;
  }
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      await cleanup();
    },
  };
}

/** Collects uncaught exceptions of a page (console noise such as failed WebSocket connects is not an error). */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.stack ?? e.message));
  return errors;
}

/** The live board open in a fresh browser, at a gateway of its own (in-process, embedded feed). */
export interface BoardPage {
  gw: Gateway;
  browser: TestBrowser;
  page: Page;
  /** The page's uncaught exceptions (pageErrors). */
  errors: string[];
  /** Closes the browser, then stops the gateway. */
  close(): Promise<void>;
}

/**
 * Starts a gateway (`overrides` on the test config), opens the board (`/`) in a new browser at
 * `viewport` (launchBrowser's default when absent) and returns once the page is loaded; waiting
 * for what the test needs (connected, rows) is the test's. What was started is stopped on failure.
 */
export async function openBoard(overrides: Partial<Config>, viewport?: { width: number; height: number }): Promise<BoardPage> {
  const gw = await startTestGateway(overrides);
  let browser: TestBrowser | undefined;
  const close = async (): Promise<void> => {
    await browser?.close();
    await gw.stop();
  };
  try {
    browser = await launchBrowser();
    const page = await browser.context.newPage();
    const errors = pageErrors(page);
    if (viewport) await page.setViewportSize(viewport);
    await page.goto(`http://127.0.0.1:${gw.port}/`);
    return { gw, browser, page, errors, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts a test gateway on a given port, retrying while the port is still held (a gateway that
 * just stopped), up to `timeoutMs`.
 *
 * A gateway that is to be restarted on the same port must also have been started on an explicit
 * port (`freePort()`), not on port 0: uSockets sets SO_REUSEADDR (and SO_REUSEPORT) only for
 * explicit ports, and without it the TIME_WAIT sockets of the connections the old gateway closed
 * keep the port unbindable for a minute (checked with strace on uWS 20.30).
 */
export async function startGatewayOnPort(port: number, overrides: Partial<Config> = {}, timeoutMs = 15_000): Promise<Gateway> {
  const started = await waitFor(
    () =>
      startTestGateway({ ...overrides, port }).then(
        (gw) => ({ gw }),
        (e: unknown) => (/cannot listen/.test(String(e)) ? undefined : { error: e }),
      ),
    { what: `port ${port} to be free`, timeoutMs, intervalMs: 100 },
  );
  if ('error' in started) throw started.error;
  return started.gw;
}
