/**
 * Runs the built gateway (dist/gateway/src/main.js) as a child process for a benchmark, on a
 * loopback ephemeral port. Every process started here is killed on `stop()`, and (SIGKILL) when
 * this process exits, is interrupted, or throws: a benchmark never leaves a gateway behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Repository root, from either bench/src (vitest) or dist/bench/src (compiled). */
export const ROOT = fileURLToPath(new URL(import.meta.url.endsWith('.js') ? '../../../' : '../../', import.meta.url));
export const GATEWAY_MAIN = `${ROOT}dist/gateway/src/main.js`;

export interface GatewayProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  epoch: string;
  /** Log lines seen so far (JSON text), at most the last 200, plus counts by pino level. */
  logs(): { lines: string[]; byLevel: Record<string, number>; stderr: string };
  /** Resolves with the exit code (or signal name) once the process exited. */
  exited: Promise<number | string | null>;
  /** SIGTERM, wait up to `timeoutMs` for exit, then SIGKILL. Resolves with the exit code. */
  stop(timeoutMs?: number): Promise<number | string | null>;
}

const running = new Set<ChildProcess>();
let hooked = false;

function killAll(): void {
  for (const c of running) c.kill('SIGKILL');
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
}

/** Starts the gateway with `args` (after `--host 127.0.0.1 --port 0`) and waits until it listens. */
export function startGatewayProcess(args: string[], opts: { env?: Record<string, string>; startTimeoutMs?: number } = {}): Promise<GatewayProcess> {
  if (!existsSync(GATEWAY_MAIN)) throw new Error(`${GATEWAY_MAIN} is missing: run "npm run build" first`);
  hookExit();
  const child = spawn(process.execPath, [GATEWAY_MAIN, '--host', '127.0.0.1', '--port', '0', ...args], {
    env: { PATH: process.env.PATH ?? '', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const lines: string[] = [];
  const byLevel: Record<string, number> = {};
  let stderr = '';
  let partial = '';
  let listening: ((v: { port: number; epoch: string }) => void) | undefined;
  const exited = new Promise<number | string | null>((resolve) =>
    child.on('exit', (code, signal) => {
      running.delete(child);
      resolve(code ?? signal);
    }),
  );
  // Always drain both pipes: a gateway blocked on a full stdout pipe would skew the benchmark.
  child.stdout!.on('data', (d: Buffer) => {
    partial += d.toString('utf8');
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      lines.push(line);
      if (lines.length > 200) lines.shift();
      const lvl = /"level":(\d+)/.exec(line);
      if (lvl) byLevel[lvl[1] as string] = (byLevel[lvl[1] as string] ?? 0) + 1;
      const m = /"port":(\d+),"epoch":"([^"]+)"/.exec(line);
      if (m && listening) {
        listening({ port: Number(m[1]), epoch: m[2] as string });
        listening = undefined;
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString('utf8');
    if (stderr.length > 64 * 1024) stderr = stderr.slice(-32 * 1024);
  });

  const stop = async (timeoutMs = 10_000): Promise<number | string | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    try {
      return await exited;
    } finally {
      clearTimeout(t);
    }
  };

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gateway did not start in ${opts.startTimeoutMs ?? 15_000} ms:\n${lines.join('\n')}\n${stderr}`));
    }, opts.startTimeoutMs ?? 15_000);
    listening = ({ port, epoch }) => {
      clearTimeout(timer);
      resolve({
        child,
        pid: child.pid as number,
        port,
        epoch,
        logs: () => ({ lines: [...lines], byLevel: { ...byLevel }, stderr }),
        exited,
        stop,
      });
    };
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited (${code}) before listening:\n${stderr}`));
    });
  });
}

/** Reads the gateway's Prometheus counters and gauges (unlabelled series only). */
export async function scrapeMetrics(port: number, timeoutMs = 2000): Promise<Record<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*) (\S+)$/.exec(line);
    if (m) out[m[1] as string] = Number(m[2]);
  }
  return out;
}
