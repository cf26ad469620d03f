/**
 * CPU and memory of another process (or thread), read from Linux /proc.
 *
 * CPU time is utime + stime of /proc/<pid>/stat (all threads of the process; GC and other helper
 * threads included), in clock ticks of `getconf CLK_TCK` (100 on Linux, i.e. 10 ms resolution:
 * over a 10 s window the error is ≤ 0.2 %). 100 % = one core busy.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let clkTck: number | undefined;

/** Clock ticks per second of /proc CPU times (`getconf CLK_TCK`, 100 when that fails). */
export function clockTicksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      const v = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2000 }).trim());
      clkTck = Number.isFinite(v) && v > 0 ? v : 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** Fields of a /proc/.../stat line; `comm` may hold spaces and parentheses, so split after its last ')'. */
function parseStat(text: string): { comm: string; utime: number; stime: number } {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  return { comm: text.slice(open + 1, close), utime: Number(rest[11]), stime: Number(rest[12]) };
}

/** CPU seconds (user + system) used so far by process `pid`, all its threads included. */
export function processCpuSeconds(pid: number): number {
  const s = parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  return (s.utime + s.stime) / clockTicksPerSecond();
}

/** CPU seconds used so far by each thread of `pid` (tid = pid is the main thread). */
export function threadCpuSeconds(pid: number): { tid: number; name: string; seconds: number }[] {
  const out: { tid: number; name: string; seconds: number }[] = [];
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const s = parseStat(readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8'));
      out.push({ tid: Number(t), name: s.comm, seconds: (s.utime + s.stime) / clockTicksPerSecond() });
    } catch {
      // the thread exited between readdir and read
    }
  }
  return out;
}

/** Resident memory of `pid` in bytes: VmRSS now, and VmHWM, its peak. */
export function processMemory(pid: number): { rssBytes: number; peakRssBytes: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : NaN;
  };
  return { rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM') };
}

export interface CpuWindow {
  /** CPU seconds used between `start` and `stop`. */
  seconds: number;
  wallSeconds: number;
  /** seconds / wallSeconds × 100; 100 = one core. */
  percent: number;
  /** The same for the main thread alone (tid = pid): for a single-threaded server, its ceiling is 100. */
  mainThreadSeconds: number;
  mainThreadPercent: number;
}

/** CPU use of one process over a window: `start()`, later `stop()`. */
export class CpuSampler {
  private t0 = 0;
  private cpu0 = 0;
  private main0 = 0;

  constructor(readonly pid: number) {}

  start(): void {
    this.t0 = performance.now();
    this.cpu0 = processCpuSeconds(this.pid);
    this.main0 = mainThreadSeconds(this.pid);
  }

  stop(): CpuWindow {
    const wall = (performance.now() - this.t0) / 1000;
    const seconds = processCpuSeconds(this.pid) - this.cpu0;
    const main = mainThreadSeconds(this.pid) - this.main0;
    return { seconds, wallSeconds: wall, percent: (seconds / wall) * 100, mainThreadSeconds: main, mainThreadPercent: (main / wall) * 100 };
  }
}

function mainThreadSeconds(pid: number): number {
  const s = parseStat(readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8'));
  return (s.utime + s.stime) / clockTicksPerSecond();
}

/** Whole-machine CPU times from the first line of /proc/stat, in seconds (all cores summed). */
export function systemCpuSeconds(): { busy: number; idle: number; steal: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] as string;
  // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  const hz = clockTicksPerSecond();
  return { busy: (user + nice + system + irq + softirq) / hz, idle: (idle + iowait) / hz, steal: steal / hz };
}

export interface SystemCpuWindow {
  /** Busy CPU over the window, % of one core (so up to 100 × cores). */
  busyPercent: number;
  /** Time stolen by the hypervisor, % of one core. */
  stealPercent: number;
}

/** Whole-machine CPU use over a window: what else ran next to the benchmark. */
export class SystemCpuSampler {
  private t0 = 0;
  private s0 = systemCpuSeconds();

  start(): void {
    this.t0 = performance.now();
    this.s0 = systemCpuSeconds();
  }

  stop(): SystemCpuWindow {
    const wall = (performance.now() - this.t0) / 1000;
    const s = systemCpuSeconds();
    return { busyPercent: ((s.busy - this.s0.busy) / wall) * 100, stealPercent: ((s.steal - this.s0.steal) / wall) * 100 };
  }
}
