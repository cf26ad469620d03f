/** The machine and source a run happened on, recorded with every result. */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { cpus, hostname, loadavg, platform, release, totalmem } from 'node:os';
import { uwsIsNative } from '../../../gateway/src/transport/uws-native.js';
import { GATEWAY_MAIN, hardFdLimit } from './proc.js';

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
  let soft = NaN;
  try {
    soft = Number(execFileSync('bash', ['-c', 'ulimit -n'], { encoding: 'utf8', timeout: 2000 }).trim());
  } catch {
    // no bash
  }
  return {
    hostname: hostname(),
    os: `${platform()} ${release()}`,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cpus: cpus().length,
    totalMemGB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    uwsNative: uwsIsNative(),
    fdLimitSoft: soft,
    fdLimitHard: hardFdLimit(),
    git: { commit, dirty, distBuiltAt },
    loadavgBefore: loadavg().map((v) => Math.round(v * 100) / 100),
  };
}
