/**
 * Starts the built gateway as a child process on a loopback ephemeral port: the stock entry point
 * (dist/gateway/src/main.js) or lib-b/gateway-fine.js (embedded feed with a 1 ms pacer). Killed on
 * stop(), and (SIGKILL) on any exit of this process.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { processMemory } from '../../cpu.js';
import { httpGet, parseProm, sleep, spawnChild, type Child } from './common.js';

export interface Gw {
  pid: number;
  port: number;
  url: string;
  child: Child;
  /** Wall-clock ms when the process was spawned. */
  spawnedAt: number;
  metrics(): Promise<Record<string, number>>;
  rssMB(): number;
  stop(): Promise<number | string | null>;
}

export async function startGw(root: string, args: string[], opts: { fine?: boolean; maxLifeMs: number; startTimeoutMs?: number }): Promise<Gw> {
  const script = join(root, opts.fine ? 'dist/bench/src/suite/lib-b/gateway-fine.js' : 'dist/gateway/src/main.js');
  if (!existsSync(script)) throw new Error(`${script} is missing: run "npm run build" first`);
  const spawnedAt = Date.now();
  const child = spawnChild(process.execPath, [script, '--host', '127.0.0.1', '--port', '0', '--log-level', 'info', ...args], {
    env: { PATH: process.env.PATH ?? '' },
    maxLifeMs: opts.maxLifeMs,
  });
  let port: number;
  try {
    // gateway.ts logs {"port":P,"epoch":E,...} "tickwire listening on ..." once the listener is up.
    port = Number((await child.waitFor(/"port":(\d+),"epoch"/, opts.startTimeoutMs ?? 20_000))[1]);
  } catch (e) {
    await child.stop(2000);
    throw e;
  }
  return {
    pid: child.pid,
    port,
    url: `ws://127.0.0.1:${port}/v1`,
    child,
    spawnedAt,
    async metrics() {
      const r = await httpGet(`http://127.0.0.1:${port}/metrics`, 5000);
      return r.status === 200 ? parseProm(r.body) : {};
    },
    rssMB() {
      try {
        return processMemory(child.pid).rssBytes / 1048576;
      } catch {
        return NaN;
      }
    },
    stop: () => child.stop(10_000),
  };
}

/** Polls GET /readyz until 200; resolves with the Date.now() of the first 200 seen. */
export async function waitReady(port: number, timeoutMs: number, pollMs = 25): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await httpGet(`http://127.0.0.1:${port}/readyz`, 1000);
    if (r.status === 200) return Date.now();
    await sleep(pollMs);
  }
  throw new Error(`gateway on ${port} not ready within ${timeoutMs} ms`);
}
