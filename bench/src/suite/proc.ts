/**
 * Child processes of the benchmark suite: servers (the gateway, each baseline), load-generator
 * helpers (idle clients), Kafka producers and the bare kafkajs consumer. Each runs in its own
 * process, so its CPU and memory are measured apart, on loopback ephemeral ports.
 *
 * Every process started here is SIGTERMed by `stop()`, SIGKILLed after its `maxLifeMs`, and
 * SIGKILLed when this process exits, is interrupted or throws: a benchmark never leaves a process
 * behind. Other resources (a Kafka broker) register their own synchronous cleanup with
 * `onExitCleanup`.
 *
 * With `fdLimit` the child runs under `bash -c 'ulimit -n N || ulimit -n <hard limit>; exec ...'`
 * (exec: the pid measured is node's); see `fdLimits` for how far that can go on this machine.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Repository root, from either bench/src/suite (vitest) or dist/bench/src/suite (compiled). */
export const ROOT = fileURLToPath(new URL(import.meta.url.endsWith('.js') ? '../../../../' : '../../../', import.meta.url));
export const GATEWAY_MAIN = `${ROOT}dist/gateway/src/main.js`;
/** A compiled module of the suite (`baselines/ws-json` → dist/bench/src/suite/baselines/ws-json.js). */
export const suiteModule = (name: string): string => `${ROOT}dist/bench/src/suite/${name}.js`;

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
 * Registers a synchronous cleanup run when this process exits (normally, by process.exit, or on
 * SIGINT/SIGTERM/SIGHUP). Returns a function that unregisters it (call it once the resource was
 * released normally).
 */
export function onExitCleanup(f: () => void): () => void {
  if (!hooked) {
    hooked = true;
    process.on('exit', runCleanups);
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(sig, () => {
        runCleanups();
        process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
      });
    }
  }
  const id = nextCleanup++;
  cleanups.set(id, f);
  return () => void cleanups.delete(id);
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

// --- open-files limit ----------------------------------------------------------------------------

export interface FdLimits {
  soft: number;
  hard: number;
  /** Whether a child may be given more than `hard` (needs CAP_SYS_RESOURCE). */
  raisable: boolean;
  /** The kernel's per-process ceiling (/proc/sys/fs/nr_open). */
  nrOpen: number;
  /** Why `hard` is the ceiling, when it is. */
  why: string;
}

let fdCache: FdLimits | undefined;

const shell = (cmd: string): string => execFileSync('bash', ['-c', cmd], { encoding: 'utf8', timeout: 2000 }).trim();
const asLimit = (v: string): number => (v === 'unlimited' ? Infinity : Number(v));

/**
 * The open-files limits children can get, found by trying: raising the hard limit needs
 * CAP_SYS_RESOURCE (root usually has it; some sandboxes drop it from the bounding set), and
 * nothing goes past /proc/sys/fs/nr_open.
 */
export function fdLimits(): FdLimits {
  if (fdCache) return fdCache;
  let soft = NaN;
  let hard = NaN;
  let nrOpen = NaN;
  let raisable = false;
  try {
    soft = asLimit(shell('ulimit -Sn'));
    hard = asLimit(shell('ulimit -Hn'));
    nrOpen = Number(readFileSync('/proc/sys/fs/nr_open', 'utf8').trim());
    if (Number.isFinite(hard) && hard < nrOpen) raisable = asLimit(shell(`ulimit -n ${hard + 1} 2>/dev/null; ulimit -Hn`)) > hard;
  } catch {
    // no bash or no /proc: report what we have
  }
  let why = '';
  if (!raisable && Number.isFinite(hard)) {
    let capBnd = '';
    try {
      capBnd = /^CapBnd:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '';
    } catch {
      // not Linux
    }
    // CAP_SYS_RESOURCE is capability 24.
    const hasCap = capBnd !== '' && (BigInt(`0x${capBnd}`) >> 24n) & 1n;
    why =
      hard >= nrOpen
        ? `the hard limit is already the kernel's nr_open (${nrOpen})`
        : `raising the hard limit (${hard}) needs CAP_SYS_RESOURCE${
            capBnd && !hasCap
              ? `, which this machine's capability bounding set ` +
                `(CapBnd ${capBnd}) does not contain, so not even root can raise it ` +
                `(ulimit/prlimit: EPERM)`
              : ', which this process does not have'
          }`;
  }
  fdCache = { soft, hard, raisable, nrOpen, why };
  return fdCache;
}

/** The open-files limit a child asking for `want` gets. */
export function fdCeiling(want: number): number {
  const l = fdLimits();
  if (!Number.isFinite(l.hard)) return want;
  return Math.min(want, l.raisable ? l.nrOpen : l.hard);
}

// --- child processes -----------------------------------------------------------------------------

export interface Child {
  child: ChildProcess;
  pid: number;
  /** Date.now() when it was spawned. */
  spawnedAt: number;
  /** Everything written to stdout so far (the last 256 KiB). */
  stdout(): string;
  /** The last 64 KiB of stderr. */
  stderr(): string;
  /** Resolves with the exit code (or signal name) once the process exited. */
  exited: Promise<number | string | null>;
  /** The first match of `re` in stdout (rejects when the process exits first or after `timeoutMs`). */
  waitFor(re: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  /** SIGTERM, wait up to `timeoutMs`, then SIGKILL; resolves with the exit code. */
  stop(timeoutMs?: number): Promise<number | string | null>;
  /** Other pids that belong to it (killed with it), e.g. a binary a wrapper started. */
  extraPids: number[];
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** SIGKILL after this long whatever happens (default: no bound besides this process's life). */
  maxLifeMs?: number;
  /** Raise the open-files limit of the child to this (or to the hard limit when that fails). */
  fdLimit?: number;
  /** Pipe stdin (the child sees EOF when `stop()` closes it); default ignored. */
  stdin?: boolean;
  /** Every complete stdout line. */
  onLine?: (line: string) => void;
}

/** Spawns `cmd args`, draining both pipes, with the cleanup guarantees above. */
export function spawnChild(cmd: string, args: string[], opts: SpawnOptions = {}): Child {
  const [file, argv] = opts.fdLimit
    ? ['bash', ['-c', `ulimit -n ${Math.floor(opts.fdLimit)} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`, cmd, ...args]]
    : [cmd, args];
  const child = spawn(file, argv, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  const spawnedAt = Date.now();
  const extraPids: number[] = [];
  const killAll = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const pid of extraPids) kill(pid);
  };
  const unregister = onExitCleanup(killAll);
  let out = '';
  let err = '';
  let partial = '';
  const watchers: { re: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];
  // Always drain both pipes: a process blocked on a full pipe would skew the benchmark.
  child.stdout!.on('data', (d: Buffer) => {
    const s = d.toString('utf8');
    out += s;
    if (out.length > 256 * 1024) out = out.slice(-192 * 1024);
    if (opts.onLine) {
      partial += s;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        opts.onLine(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
    }
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
  const life = opts.maxLifeMs ? setTimeout(killAll, opts.maxLifeMs) : undefined;
  life?.unref();
  const exited = new Promise<number | string | null>((resolve) => {
    const done = (v: number | string | null) => {
      clearTimeout(life);
      for (const pid of extraPids) kill(pid);
      unregister();
      resolve(v);
    };
    child.on('exit', (code, signal) => done(code ?? signal));
    child.on('error', () => done('spawn-error'));
  });
  const describe = `${cmd} ${args.join(' ')}`.slice(0, 300);
  return {
    child,
    pid: child.pid ?? -1,
    spawnedAt,
    stdout: () => out,
    stderr: () => err,
    exited,
    extraPids,
    waitFor(re, timeoutMs) {
      const m = re.exec(out);
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        const w = { re, resolve: (x: RegExpExecArray) => (clearTimeout(t), resolve(x)) };
        const t = setTimeout(() => {
          watchers.splice(watchers.indexOf(w), 1);
          reject(
            new Error(
              `timed out after ${timeoutMs} ms waiting for ${re} ` +
                `from ${describe}\nstdout: ${out.slice(-2000)}\nstderr: ${err.slice(-2000)}`,
            ),
          );
        }, timeoutMs);
        watchers.push(w);
        void exited.then((code) => {
          if (!watchers.includes(w)) return;
          watchers.splice(watchers.indexOf(w), 1);
          clearTimeout(t);
          reject(new Error(`${describe} exited (${code}) before printing ${re}\nstdout: ${out.slice(-2000)}\nstderr: ${err.slice(-2000)}`));
        });
      });
    },
    async stop(timeoutMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      child.stdin?.end();
      const t = setTimeout(killAll, timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(t);
      }
    },
  };
}

// --- servers -------------------------------------------------------------------------------------

export interface ServerProcess extends Child {
  name: string;
  port: number;
  /** Everything else the ready line said (JSON), e.g. `{ "serverPid": 123 }`. */
  ready: Record<string, unknown>;
}

export interface StartOptions extends Omit<SpawnOptions, 'env'> {
  /** Matched against stdout; group 1 is the port. The line may also be JSON with more fields. */
  ready: RegExp;
  /** Added to PATH and HOME (the only variables a server inherits). */
  env?: Record<string, string>;
  startTimeoutMs?: number;
  /** Name of a numeric field of the ready line (JSON) holding the pid to measure instead of the child's. */
  pidField?: string;
}

/** Starts `node <file> ...args` and waits for its ready line. */
export async function startNodeProcess(name: string, file: string, args: string[], opts: StartOptions): Promise<ServerProcess> {
  if (!existsSync(file)) throw new Error(`${file} is missing: run "npm run build" first`);
  const { ready: readyRe, env, startTimeoutMs, pidField, ...spawnOpts } = opts;
  // TICKWIRE_BENCH_CPU_PROF=<dir>: every server writes a V8 CPU profile there when it stops (to find where a ratio goes).
  const profDir = process.env.TICKWIRE_BENCH_CPU_PROF;
  const prof = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`] : [];
  const c = spawnChild(process.execPath, [...prof, file, ...args], {
    ...spawnOpts,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  });
  let m: RegExpExecArray;
  try {
    m = await c.waitFor(new RegExp(`^.*${readyRe.source}.*$`, `m${readyRe.flags.replace(/[gm]/g, '')}`), startTimeoutMs ?? 20_000);
  } catch (e) {
    await c.stop(2000);
    throw new Error(`${name} did not start: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const line = m[0];
  let ready: Record<string, unknown> = {};
  try {
    const v = JSON.parse(line) as unknown;
    if (v && typeof v === 'object') ready = v as Record<string, unknown>;
  } catch {
    // not JSON
  }
  let pid = c.pid;
  if (pidField && typeof ready[pidField] === 'number') {
    pid = ready[pidField];
    c.extraPids.push(pid);
  }
  return { ...c, name, pid, port: Number(m[1]), ready };
}

export interface GatewayStartOptions {
  fdLimit?: number;
  env?: Record<string, string>;
  maxLifeMs?: number;
  onLine?: (line: string) => void;
  /** Run bench/src/suite/gateway-fine.ts (embedded feed on a finer pacer) instead of the stock entry point. */
  finePacer?: boolean;
}

/** The built gateway on 127.0.0.1, an ephemeral port, with `args`. */
export function startGateway(args: string[], opts: GatewayStartOptions = {}): Promise<ServerProcess> {
  const { finePacer, ...rest } = opts;
  // gateway.ts logs {"port":P,"epoch":E,...} "tickwire listening on ..." once the listener is up.
  // One worker unless the caller asks for more (a later --workers wins): the goals compare one
  // gateway thread with one-threaded baselines; the workers scenario measures N.
  return startNodeProcess(
    'tickwire',
    finePacer ? suiteModule('gateway-fine') : GATEWAY_MAIN,
    ['--host', '127.0.0.1', '--port', '0', '--workers', '1', ...args],
    { ready: /"port":(\d+),"epoch"/, ...rest },
  );
}

/** A baseline server (bench/src/suite/baselines/<name>.ts, compiled), which prints `{"port":N,...}` when it listens. */
export function startBaseline(
  name: string,
  args: string[],
  opts: { fdLimit?: number; env?: Record<string, string>; pidField?: string; startTimeoutMs?: number } = {},
): Promise<ServerProcess> {
  return startNodeProcess(name, suiteModule(`baselines/${name}`), ['--host', '127.0.0.1', '--port', '0', ...args], {
    ready: /^\{"port":(\d+)/,
    ...opts,
  });
}
