/**
 * The process edge (issue 13, points 7, 8, 10): shutdown with a dead log reader, a port another
 * process holds, and a JWT key while authentication is off. Each runs the built gateway.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TestClient } from './support/client.js';
import { MAIN, spawnGateway, stopAll } from './support/process.js';

const dir = mkdtempSync(join(tmpdir(), 'tickwire-edge-'));
const started = new Set<ChildProcess>();
afterAll(() => {
  stopAll();
  for (const c of started) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Resolves with the exit code, or 'still running' after `ms`: a hang is a failure, not a stuck test. */
function exitWithin(child: ChildProcess, ms: number): Promise<number | null | 'still running'> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('still running'), ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

function startFailure(p: Promise<unknown>): Promise<{ code: number | null; stderr: string } | undefined> {
  return p.then(
    () => undefined,
    (e: { code: number | null; stderr: string }) => e,
  );
}

describe('shutdown when stdout is gone (point 7)', () => {
  const NOTICE_MS = 200;
  const GRACE_MS = 1000;
  // The gateway's hard deadline is notice + grace + 5 s; the wait allows a busy machine 3 s more.
  const BOUND_MS = NOTICE_MS + GRACE_MS + 5_000 + 3_000;

  it.each([1, 2])(
    'SIGTERM with the log reader killed (stdout a FIFO) exits within the deadline, workers=%i',
    async (workers) => {
      const fifo = join(dir, `log-${workers}.fifo`);
      expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
      // The only reader of the FIFO: once it is killed, every write to it fails with EPIPE.
      const reader = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'ignore'] });
      started.add(reader);
      let log = '';
      reader.stdout.on('data', (d: Buffer) => (log += d.toString()));
      // Opening for writing waits for the reader: off the event loop (a promise), bounded by the test timeout.
      const handle = await open(fifo, 'w');
      const args = [
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--feed-rate',
        '2000',
        '--shutdown-notice-ms',
        String(NOTICE_MS),
        '--shutdown-grace-ms',
        String(GRACE_MS),
      ];
      const gw = spawn(process.execPath, [MAIN, ...args], {
        env: { PATH: process.env.PATH ?? '', TICKWIRE_WORKERS: String(workers) },
        stdio: ['ignore', handle.fd, 'pipe'],
      });
      started.add(gw);
      await handle.close();
      let stderr = '';
      gw.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      await waitFor(
        () => /"port":(\d+)/.test(log),
        15_000,
        () => `gateway did not start:\n${log}\n${stderr}`,
      );
      // No client: the stop is quick, so its log lines are still being written when it ends (the
      // case that hung: pino's exit-time flush retried the EPIPE write forever).
      reader.kill('SIGKILL');
      expect(await exitWithin(reader, 5_000)).not.toBe('still running');
      gw.kill('SIGTERM');
      const code = await exitWithin(gw, BOUND_MS);
      expect(code, `gateway still running ${BOUND_MS} ms after SIGTERM; stderr:\n${stderr}`).toBe(0);
    },
    40_000,
  );

  it('a second SIGTERM while draining exits 1 at once, with workers too (they are cut first)', async () => {
    // A drain notice far beyond the test's bound: only the second signal can end this shutdown in time.
    const gw = await spawnGateway(['--feed-rate', '500', '--shutdown-notice-ms', '60000'], { TICKWIRE_WORKERS: '2' });
    const client = await TestClient.connect(gw.port);
    client.send({ op: 'sub', id: 1, topics: ['quote.BTC-USD'] });
    await client.waitFor((m) => m.op === 'snap');
    gw.child.kill('SIGTERM');
    await client.waitFor((m) => m.op === 'shutdown', 10_000);
    gw.child.kill('SIGTERM');
    const code = await exitWithin(gw.child, 8_000);
    // Before the fix: process.exit with the workers' uWS apps open aborted the process (SIGABRT, code null).
    expect(code, gw.stderr()).toBe(1);
    expect(gw.stderr()).not.toMatch(/open handles|Abort/);
    client.close();
  }, 40_000);
});

describe('a port another process holds (point 8)', () => {
  it('a second gateway on an occupied port exits 2 naming the port; the first keeps serving with one epoch', async () => {
    // The first runs 2 workers: they share the port among themselves.
    const first = await spawnGateway(['--feed-rate', '1000'], { TICKWIRE_WORKERS: '2' });
    for (const workers of ['1', '2']) {
      const second = await startFailure(spawnGateway(['--port', String(first.port)], { TICKWIRE_WORKERS: workers }));
      expect(second?.code, `workers=${workers}: the second gateway started`).toBe(2);
      expect(second?.stderr).toMatch(
        new RegExp(`TICKWIRE_PORT \\(--port\\) = ${first.port}: port ${first.port} on 127\\.0\\.0\\.1 is already in use`),
      );
    }
    const clients = await Promise.all(Array.from({ length: 24 }, () => TestClient.connect(first.port)));
    for (const c of clients) c.send({ op: 'sub', id: 1, topics: ['quote.BTC-USD'] });
    const snaps = await Promise.all(clients.map((c) => c.waitFor((m) => m.op === 'snap')));
    expect(new Set(snaps.map((s) => s.epoch))).toEqual(new Set([first.epoch]));
    for (const c of clients) c.close();
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
  }, 60_000);
});

describe('authentication cannot fail open; the real bind address is logged (point 10)', () => {
  const SECRET = 'do-not-print-me-0123456789abcdef-0123456789';

  it('a JWT secret while authMode is none stops startup with exit 2, naming both settings, never the secret', async () => {
    const viaFlag = await startFailure(spawnGateway(['--jwt-secret', SECRET]));
    expect(viaFlag?.code).toBe(2);
    expect(viaFlag?.stderr).toMatch(/TICKWIRE_JWT_SECRET \(--jwt-secret\).*TICKWIRE_AUTH_MODE/);
    expect(viaFlag?.stderr).not.toContain(SECRET);

    const viaEnv = await startFailure(spawnGateway([], { TICKWIRE_JWT_SECRET: SECRET, TICKWIRE_AUTH_MODE: 'none' }));
    expect(viaEnv?.code).toBe(2);
    expect(viaEnv?.stderr).toMatch(/TICKWIRE_JWT_SECRET.*TICKWIRE_AUTH_MODE/);
    expect(viaEnv?.stderr).not.toContain(SECRET);

    // A secret rejected for another reason is not printed either.
    const short = await startFailure(spawnGateway(['--auth-mode', 'jwt', '--jwt-secret', 'short-secret-xyz']));
    expect(short?.code).toBe(2);
    expect(short?.stderr).toMatch(/TICKWIRE_JWT_SECRET.*32 bytes/);
    expect(short?.stderr).not.toContain('short-secret-xyz');
  });

  it.each(['TICKWIRE_JWT_PUBLIC_KEY_FILE', 'TICKWIRE_JWT_JWKS_FILE'])(
    '%s while authMode is none stops startup with exit 2',
    async (name) => {
      const file = join(dir, `${name}.txt`);
      writeFileSync(file, '{}');
      const failed = await startFailure(spawnGateway([], { [name]: file }));
      expect(failed?.code).toBe(2);
      expect(failed?.stderr).toMatch(new RegExp(`${name}.*TICKWIRE_AUTH_MODE`));
    },
  );

  it('logs the address it binds: all interfaces, or the one given', async () => {
    const all = await spawnGateway(['--host', '0.0.0.0', '--feed-rate', '0']);
    expect(all.stdout()).toContain(`listening on 0.0.0.0:${all.port} (all interfaces); local clients: ws://127.0.0.1:${all.port}/v1`);
    all.child.kill('SIGTERM');
    const one = await spawnGateway(['--feed-rate', '0']);
    expect(one.stdout()).toContain(`listening on 127.0.0.1:${one.port} (this address only); clients: ws://127.0.0.1:${one.port}/v1`);
    one.child.kill('SIGTERM');
    expect(await all.exited).toBe(0);
    expect(await one.exited).toBe(0);
  });
});

async function waitFor(cond: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms: ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
