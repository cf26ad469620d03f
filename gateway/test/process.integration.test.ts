import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { TestClient } from './support/client.js';
import { MAIN, ROOT, spawnGateway, stopAll } from './support/process.js';

afterAll(stopAll);

describe('gateway process', () => {
  it('on SIGTERM stops accepting, sends a shutdown notice, closes clients with 1001 and exits 0', async () => {
    const gw = await spawnGateway(['--feed-rate', '2000', '--log-level', 'info']);
    const clients = await Promise.all([1, 2, 3].map(() => TestClient.connect(gw.port)));
    for (const c of clients) c.send({ op: 'sub', id: 1, topics: ['quote.BTC-USD'] });
    await Promise.all(clients.map((c) => c.waitFor((m) => m.op === 'snap')));
    gw.child.kill('SIGTERM');
    const codes = await Promise.all(clients.map((c) => c.waitClosed()));
    expect(codes).toEqual([1001, 1001, 1001]);
    // A shutdown notice came first, so clients could reconnect elsewhere before the close.
    for (const c of clients)
      expect(c.messages.some((m) => m.op === 'shutdown' && typeof m.ts === 'number' && /shutting down/.test(m.msg))).toBe(true);
    expect(clients[0]!.closeReason).toMatch(/shutting down/);
    expect(await gw.exited).toBe(0);
    expect(gw.stdout()).toMatch(/tickwire stopped/);
    await expect(TestClient.connect(gw.port)).rejects.toThrow();
  });

  it('refuses to start on a bad setting, naming it, with exit code 2', async () => {
    const bad = await spawnGateway(['--idle-timeout-sec', '5']).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(bad?.code).toBe(2);
    expect(bad?.stderr).toMatch(/TICKWIRE_IDLE_TIMEOUT_SEC \(--idle-timeout-sec\) = "5".*1–7/);

    const env = await spawnGateway([], { TICKWIRE_FEED_RATE: 'fast' }).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(env?.code).toBe(2);
    expect(env?.stderr).toMatch(/TICKWIRE_FEED_RATE/);
  });

  it('--help lists the settings and exits 0', () => {
    const r = spawnSync(process.execPath, [MAIN, '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--feed-rate\s+\(TICKWIRE_FEED_RATE/);
  });

  it('detects the uWebSockets.js JS fallback (the check can fail)', () => {
    const probe = `import('${ROOT}dist/gateway/src/transport/uws-native.js').then(m => console.log(JSON.stringify(m.uwsIsNative())))`;
    const native = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    const fallback = spawnSync(process.execPath, ['-e', probe], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', UWS_USE_FALLBACK: '1' },
    });
    expect(native.stdout.trim().split('\n').pop()).toBe('true');
    expect(fallback.stdout.trim().split('\n').pop()).toBe('false');
  });
});

describe('memory under stalled clients', () => {
  const rss = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

  it('gateway RSS stays within its configured per-connection bound while clients stop reading', async () => {
    const maxBackpressure = 1024 * 1024;
    const gw = await spawnGateway([
      '--feed-rate',
      '50000',
      // The subscribed topics only: at this rate the books' change sets fill the (bounded) resume
      // history by tens of MB a second, which is not the per-connection memory measured here.
      '--feed-books=false',
      '--slow-soft-bytes',
      '65536',
      '--max-backpressure-bytes',
      String(maxBackpressure),
      '--slow-timeout-ms',
      '60000',
      '--log-level',
      'info',
    ]);
    const topics = ['BTC-USD', 'ETH-USD', 'SOL-USD', 'AAPL', 'MSFT', 'NVDA', 'EUR-USD'].flatMap((s) => [`trade.${s}`, `quote.${s}`]);
    const clients = await Promise.all(Array.from({ length: 8 }, () => TestClient.connect(gw.port)));
    for (const c of clients) c.send({ op: 'sub', id: 1, topics });
    await Promise.all(clients.map((c) => c.waitUntil(() => c.messages.length > 20, 15_000)));
    const baseline = rss(gw.child.pid!);
    for (const c of clients) c.pause();
    let peak = baseline;
    // Deliberate: RSS sampled over a fixed 6 s window while the clients stay stalled (the thing tested).
    for (let i = 0; i < 12; i++) {
      await new Promise((r) => setTimeout(r, 500));
      peak = Math.max(peak, rss(gw.child.pid!));
    }
    // Unbounded queues would grow by ~8 clients x 2 MB/s x 6 s; the policy caps each connection.
    expect(peak - baseline).toBeLessThan(8 * maxBackpressure + 40 * 1024 * 1024);
    const metrics = await (await fetch(`http://127.0.0.1:${gw.port}/metrics`)).text();
    expect(Number(/^tickwire_slow_consumer_events_total (\d+)/m.exec(metrics)![1])).toBeGreaterThanOrEqual(8);
    for (const c of clients) c.close();
    gw.child.kill('SIGTERM');
    expect(await gw.exited).toBe(0);
  }, 60_000);
});
