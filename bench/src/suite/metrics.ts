/**
 * HTTP on loopback for the suite: the gateway's Prometheus metrics and readiness, and plain GETs
 * that never throw (a failed request is a value, so a sampler loop never dies mid-run).
 */
import { sleep } from './stats.js';

/** GET a loopback URL, returning status and body (status 0 with the error text when the request failed). */
export async function httpGet(url: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text() };
  } catch (e) {
    return { status: 0, body: String(e) };
  }
}

/** Prometheus text → values of every series; labelled ones are keyed as `name{labels}`. */
export function parseProm(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)/.exec(line);
    if (m) out[m[1] as string] = Number(m[2]);
  }
  return out;
}

/** Sum of every series of metric `name` (all label sets); NaN when there is none. */
export function promSum(m: Record<string, number>, name: string): number {
  let s = 0;
  let found = false;
  for (const [k, v] of Object.entries(m)) {
    if (k === name || k.startsWith(`${name}{`)) {
      s += v;
      found = true;
    }
  }
  return found ? s : NaN;
}

/** The gateway's metrics (`{}` when /metrics did not answer 200). */
export async function scrapeMetrics(port: number, timeoutMs = 5000): Promise<Record<string, number>> {
  const r = await httpGet(`http://127.0.0.1:${port}/metrics`, timeoutMs);
  return r.status === 200 ? parseProm(r.body) : {};
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
