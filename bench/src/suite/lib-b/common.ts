/**
 * Small helpers shared by the kafka, micro, http, tuning and soak scenarios: statistics, machine
 * load, process cleanup on every exit path, child processes with bounded lifetimes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function round(n: number, digits = 1): number {
  if (!Number.isFinite(n)) return n;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function median(xs: readonly number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? (v[m] as number) : ((v[m - 1] as number) + (v[m] as number)) / 2;
}

export function minMax(xs: readonly number[]): [number, number] {
  const v = xs.filter((x) => Number.isFinite(x));
  return v.length ? [Math.min(...v), Math.max(...v)] : [NaN, NaN];
}

/** Load average and CPU count, recorded next to every result (the machine is shared). */
export function machineLoad(): { loadavg1: number; loadavg5: number; cpus: number } {
  const [l1 = NaN, l5 = NaN] = loadavg();
  return { loadavg1: round(l1, 2), loadavg5: round(l5, 2), cpus: cpus().length };
}

/** Ordinary least squares y = a + b x, with the standard error of b. */
export function linearFit(xs: readonly number[], ys: readonly number[]): { slope: number; intercept: number; slopeStdErr: number; n: number } {
  const n = Math.min(xs.length, ys.length);
  if (n < 3) return { slope: NaN, intercept: NaN, slopeStdErr: NaN, n };
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i] as number;
    sy += ys[i] as number;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] as number) - mx;
    sxx += dx * dx;
    sxy += dx * ((ys[i] as number) - my);
  }
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  let sse = 0;
  for (let i = 0; i < n; i++) {
    const r = (ys[i] as number) - (intercept + slope * (xs[i] as number));
    sse += r * r;
  }
  const slopeStdErr = Math.sqrt(sse / (n - 2) / sxx);
  return { slope, intercept, slopeStdErr, n };
}

// --- cleanup on every exit path ------------------------------------------------------------------

const cleanups = new Map<number, () => void>();
let nextCleanup = 1;
let hooked = false;

function runCleanups(): void {
  for (const [id, f] of [...cleanups].reverse()) {
    cleanups.delete(id);
    try {
      f();
    } catch {
      // best effort: we are exiting
    }
  }
}

/**
 * Registers a synchronous cleanup run when the process exits (normally, by process.exit, or on
 * SIGINT/SIGTERM/SIGHUP). Returns a function that unregisters it (call it once the resource was
 * released normally).
 */
export function onExitCleanup(f: () => void): () => void {
  if (!hooked) {
    hooked = true;
    process.on('exit', runCleanups);
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(sig, () => {
        runCleanups();
        // Other handlers (bench/src/gateway-process.ts) may exit too; if none does, we do.
        setImmediate(() => process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1)));
      });
    }
  }
  const id = nextCleanup++;
  cleanups.set(id, f);
  return () => void cleanups.delete(id);
}

// --- child processes -----------------------------------------------------------------------------

export interface Child {
  child: ChildProcess;
  pid: number;
  /** Everything written to stdout so far (last 256 KiB). */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or signal) once the process exited. */
  exited: Promise<number | string | null>;
  /** Resolves with the first stdout line matching `re` (rejects when the process exits first or after `timeoutMs`). */
  waitFor(re: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves with the exit code. */
  stop(timeoutMs?: number): Promise<number | string | null>;
}

/**
 * Spawns `node script args` (or any command) with a hard lifetime bound: SIGKILLed after
 * `maxLifeMs`, and when this process exits or is interrupted.
 */
export function spawnChild(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; maxLifeMs: number }): Child {
  const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const unregister = onExitCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  const watchers: { re: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString('utf8');
    if (out.length > 256 * 1024) out = out.slice(-192 * 1024);
    for (const w of [...watchers]) {
      const m = w.re.exec(out);
      if (m) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString('utf8');
    if (err.length > 64 * 1024) err = err.slice(-48 * 1024);
  });
  const life = setTimeout(() => child.kill('SIGKILL'), opts.maxLifeMs);
  life.unref();
  const exited = new Promise<number | string | null>((resolve) => {
    child.on('exit', (code, signal) => {
      clearTimeout(life);
      unregister();
      resolve(code ?? signal);
    });
    child.on('error', () => {
      clearTimeout(life);
      unregister();
      resolve('spawn-error');
    });
  });
  return {
    child,
    pid: child.pid ?? -1,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(re, timeoutMs) {
      const m = re.exec(out);
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        const w = { re, resolve: (x: RegExpExecArray) => (clearTimeout(t), resolve(x)) };
        const t = setTimeout(() => {
          watchers.splice(watchers.indexOf(w), 1);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re} from ${cmd} ${args.join(' ')}\nstdout: ${out.slice(-2000)}\nstderr: ${err.slice(-2000)}`));
        }, timeoutMs);
        watchers.push(w);
        void exited.then((code) => {
          if (!watchers.includes(w)) return;
          watchers.splice(watchers.indexOf(w), 1);
          clearTimeout(t);
          reject(new Error(`${cmd} ${args.join(' ')} exited (${code}) before printing ${re}\nstdout: ${out.slice(-2000)}\nstderr: ${err.slice(-2000)}`));
        });
      });
    },
    async stop(timeoutMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(t);
      }
    },
  };
}

/** Runs a command synchronously (used in exit handlers), bounded. */
export function runSync(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { env, timeout: timeoutMs, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A free loopback port P with P+1 free too (Kafka broker + controller). */
export async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = 20_000 + Math.floor(Math.random() * 20_000);
    if ((await portFree(p)) && (await portFree(p + 1))) return p;
  }
  throw new Error('no free port pair on 127.0.0.1');
}

/** GET a loopback URL, returning status and body (never throws on HTTP errors). */
export async function httpGet(url: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text() };
  } catch (e) {
    return { status: 0, body: String(e) };
  }
}

/** Prometheus text → values of every series, labelled ones keyed as `name{labels}`. */
export function parseProm(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)/.exec(line);
    if (m) out[m[1] as string] = Number(m[2]);
  }
  return out;
}

/** Sum of every series of metric `name` (all label sets). */
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
