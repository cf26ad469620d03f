import { describe, expect, it } from 'vitest';
import { lagMonitor, waitFor } from './support/wait.js';

describe('waitFor', () => {
  it('returns the first truthy value of the predicate, sync or async, and retries a throwing one', async () => {
    let n = 0;
    expect(await waitFor(() => (++n >= 3 ? n : 0), { what: 'three polls', intervalMs: 1 })).toBe(3);
    let m = 0;
    const v = await waitFor(
      async () => {
        if (++m < 2) throw new Error('not yet');
        return 'ok';
      },
      { what: 'async ok', intervalMs: 1 },
    );
    expect(v).toBe('ok');
  });

  it('fails after timeoutMs naming what was awaited and the last value or error seen', async () => {
    const never = waitFor(() => 0, { what: '3 acks', timeoutMs: 50 });
    await expect(never).rejects.toThrow(/timed out after 50 ms waiting for 3 acks \(last value: 0\)/);
    await expect(
      waitFor(
        () => {
          throw new Error('refused');
        },
        { what: '/readyz 200', timeoutMs: 50 },
      ),
    ).rejects.toThrow(/waiting for \/readyz 200 \(last error: refused\)/);
  });
});

describe('lagMonitor', () => {
  it('sees a blocked event loop', async () => {
    const lag = lagMonitor();
    await waitFor(() => true, { what: 'a tick' });
    const t0 = Date.now();
    while (Date.now() - t0 < 120) {
      // block the loop
    }
    await waitFor(() => lag.maxMs() >= 100, { what: 'lag >= 100 ms', timeoutMs: 5_000 });
    lag.stop();
  });
});
