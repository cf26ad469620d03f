/**
 * Server processes of the benchmark suite: the gateway and each baseline run as child processes
 * (so their CPU and memory are measured apart from the load generator), on loopback ephemeral
 * ports. Every process started here is SIGTERMed by `stop()`, and SIGKILLed when this process
 * exits, is interrupted or throws: a benchmark never leaves a server behind.
 *
 * With `fdLimit` the child runs under `bash -c 'ulimit -n N || ulimit -n <hard limit>; exec node ...'`
 * (exec: the pid measured is node's).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Repository root, from either bench/src/suite (vitest) or dist/bench/src/suite (compiled). */
export const ROOT = fileURLToPath(new URL(import.meta.url.endsWith('.js') ? '../../../../' : '../../../', import.meta.url));
export const GATEWAY_MAIN = `${ROOT}dist/gateway/src/main.js`;
/** A compiled module of the suite (`baselines/ws-json` → dist/bench/src/suite/baselines/ws-json.js). */
export const suiteModule = (name: string): string => `${ROOT}dist/bench/src/suite/${name}.js`;

export interface ServerProcess {
  name: string;
  child: ChildProcess;
  /** The pid whose CPU and memory are the server's (for Centrifugo: the centrifugo binary). */
  pid: number;
  port: number;
  /** Everything else the ready line said (JSON), e.g. `{ "serverPid": 123 }`. */
  ready: Record<string, unknown>;
  /** Last stdout lines (at most 200) and stderr tail. */
  logs(): { lines: string[]; stderr: string };
  exited: Promise<number | string | null>;
  /** SIGTERM, wait up to `timeoutMs`, then SIGKILL. */
  stop(timeoutMs?: number): Promise<number | string | null>;
}

const running = new Map<ChildProcess, number[]>();
let hooked = false;

function killAll(): void {
  for (const [c, extra] of running) {
    c.kill('SIGKILL');
    for (const pid of extra) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
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

/** `ulimit -Hn` of a child shell (what `fdLimit` can reach without privileges). */
export function hardFdLimit(): number {
  try {
    const v = execFileSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8', timeout: 2000 }).trim();
    return v === 'unlimited' ? Infinity : Number(v);
  } catch {
    return NaN;
  }
}

export interface StartOptions {
  /** Matched against each stdout line; group 1 is the port. The line may also be JSON with more fields. */
  ready: RegExp;
  env?: Record<string, string>;
  startTimeoutMs?: number;
  /** Raise the open-files limit of the child to this (or to the hard limit when that fails). */
  fdLimit?: number;
  /** Name of a numeric field of the ready line (JSON) holding the pid to measure instead of the child's. */
  pidField?: string;
  /** Every stdout line, also after the ready line. */
  onLine?: (line: string) => void;
  /** Pipe stdin (the child sees EOF when `stop()` closes it); default ignored. */
  stdin?: boolean;
}

/** Starts `node <file> ...args` and waits for its ready line. */
export function startNodeProcess(name: string, file: string, args: string[], opts: StartOptions): Promise<ServerProcess> {
  if (!existsSync(file)) throw new Error(`${file} is missing: run "npm run build" first`);
  hookExit();
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...opts.env };
  const child = opts.fdLimit
    ? spawn('bash', ['-c', `ulimit -n ${Math.floor(opts.fdLimit)} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`, process.execPath, file, ...args], { env, stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, [file, ...args], { env, stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  const extraPids: number[] = [];
  running.set(child, extraPids);
  const lines: string[] = [];
  let stderr = '';
  let partial = '';
  let onLine: ((line: string) => void) | undefined;
  const exited = new Promise<number | string | null>((resolve) =>
    child.on('exit', (code, signal) => {
      running.delete(child);
      resolve(code ?? signal);
    }),
  );
  // Always drain both pipes: a server blocked on a full pipe would skew the benchmark.
  child.stdout!.on('data', (d: Buffer) => {
    partial += d.toString('utf8');
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      lines.push(line);
      if (lines.length > 200) lines.shift();
      onLine?.(line);
      opts.onLine?.(line);
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString('utf8');
    if (stderr.length > 64 * 1024) stderr = stderr.slice(-32 * 1024);
  });
  const stop = async (timeoutMs = 10_000): Promise<number | string | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      for (const pid of extraPids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }, timeoutMs);
    try {
      return await exited;
    } finally {
      clearTimeout(t);
    }
  };
  const timeoutMs = opts.startTimeoutMs ?? 20_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start in ${timeoutMs} ms:\n${lines.join('\n')}\n${stderr}`));
    }, timeoutMs);
    onLine = (line) => {
      const m = opts.ready.exec(line);
      if (!m) return;
      onLine = undefined;
      clearTimeout(timer);
      let ready: Record<string, unknown> = {};
      try {
        const v = JSON.parse(line) as unknown;
        if (v && typeof v === 'object') ready = v as Record<string, unknown>;
      } catch {
        // not JSON
      }
      let pid = child.pid as number;
      if (opts.pidField && typeof ready[opts.pidField] === 'number') {
        pid = ready[opts.pidField] as number;
        extraPids.push(pid);
      }
      resolve({ name, child, pid, port: Number(m[1]), ready, logs: () => ({ lines: [...lines], stderr }), exited, stop });
    };
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before it was ready:\n${lines.slice(-20).join('\n')}\n${stderr}`));
    });
  });
}

/** The built gateway on 127.0.0.1, an ephemeral port, with `args`. */
export function startGateway(args: string[], opts: { fdLimit?: number; env?: Record<string, string> } = {}): Promise<ServerProcess> {
  return startNodeProcess('tickwire', GATEWAY_MAIN, ['--host', '127.0.0.1', '--port', '0', ...args], { ready: /"port":(\d+),"epoch"/, ...opts });
}

/** A baseline server (bench/src/suite/baselines/<name>.ts, compiled), which prints `{"port":N,...}` when it listens. */
export function startBaseline(name: string, args: string[], opts: { fdLimit?: number; env?: Record<string, string>; pidField?: string; startTimeoutMs?: number } = {}): Promise<ServerProcess> {
  return startNodeProcess(name, suiteModule(`baselines/${name}`), ['--host', '127.0.0.1', '--port', '0', ...args], { ready: /^\{"port":(\d+)/, ...opts });
}
