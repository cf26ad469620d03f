/** The machine and source a run happened on, recorded with every result. */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { cpus, hostname, loadavg, platform, release, totalmem } from 'node:os';
import { uwsIsNative } from '../../../gateway/src/transport/uws-native.js';
import { fdLimits, GATEWAY_MAIN } from './proc.js';
import { round } from './stats.js';

export interface MachineInfo {
  hostname: string;
  os: string;
  cpuModel: string;
  cpus: number;
  totalMemGB: number;
  node: string;
  uwsNative: boolean;
  fdLimitSoft: number;
  fdLimitHard: number;
  /** Whether the suite may give its children more than fdLimitHard (CAP_SYS_RESOURCE). */
  fdLimitRaisable?: boolean;
  git: { commit: string; dirty: boolean | null; distBuiltAt: string };
  loadavgBefore: number[];
  loadavgAfter?: number[];
}

export function machineInfo(root: string): MachineInfo {
  let commit = 'unknown';
  let dirty: boolean | null = null;
  try {
    const git = (a: string[]) => execFileSync('git', ['-C', root, ...a], { encoding: 'utf8', timeout: 5000 }).trim();
    commit = git(['rev-parse', '--short', 'HEAD']);
    dirty = git(['status', '--porcelain']) !== '';
  } catch {
    // not a git checkout
  }
  let distBuiltAt = 'unknown';
  try {
    distBuiltAt = statSync(GATEWAY_MAIN).mtime.toISOString();
  } catch {
    // not built
  }
  const fd = fdLimits();
  return {
    hostname: hostname(),
    os: `${platform()} ${release()}`,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cpus: cpus().length,
    totalMemGB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    uwsNative: uwsIsNative(),
    fdLimitSoft: fd.soft,
    fdLimitHard: fd.hard,
    fdLimitRaisable: fd.raisable,
    git: { commit, dirty, distBuiltAt },
    loadavgBefore: loadavg().map((v) => Math.round(v * 100) / 100),
  };
}

/** Load average and CPU count, recorded next to results measured over several runs (the machine is shared). */
export function machineLoad(): { loadavg1: number; loadavg5: number; cpus: number } {
  const [l1 = NaN, l5 = NaN] = loadavg();
  return { loadavg1: round(l1, 2), loadavg5: round(l5, 2), cpus: cpus().length };
}
