import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * The SDK as a user gets it: built, packed with npm into a tarball, installed with npm into a fresh
 * project outside the repository (so nothing resolves through the checkout's node_modules).
 */
export const PKG_DIR = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const REPO_ROOT = join(PKG_DIR, '../..');
export const TSC = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');

const run = promisify(execFile);
// Each step is bounded; npm on a cold cache is the slow one.
const STEP_MS = 120_000;

export interface InstalledProject {
  /** The temporary project; `node_modules/@tickwire/client` is the installed tarball. */
  dir: string;
  tarball: string;
  /** Runs a command in the project; rejects with its output on a non-zero exit or after timeoutMs. */
  exec(file: string, args: string[], timeoutMs?: number): Promise<{ stdout: string; stderr: string }>;
  /** Removes the project and the tarball. */
  remove(): Promise<void>;
}

/** Builds and packs client/ts, then installs the tarball (and `extra` packages, such as ws) into a new project. */
export async function packAndInstall(extra: string[] = []): Promise<InstalledProject> {
  const root = await mkdtemp(join(tmpdir(), 'tickwire-sdk-pkg-'));
  const remove = () => rm(root, { recursive: true, force: true });
  try {
    const packDir = join(root, 'pack');
    await mkdir(packDir);
    await withPackLock(async () => {
      await run(process.execPath, [join(PKG_DIR, 'scripts/build.mjs')], { cwd: PKG_DIR, timeout: STEP_MS });
      // --ignore-scripts: the build just ran (prepack would run it again).
      await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', packDir], { cwd: PKG_DIR, timeout: STEP_MS });
    });
    const [name] = (await readdir(packDir)).filter((f) => f.endsWith('.tgz'));
    if (!name) throw new Error(`npm pack left no tarball in ${packDir}`);
    const tarball = join(packDir, name);

    const dir = join(root, 'app');
    await mkdir(dir);
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'sdk-user', private: true, type: 'module' }, null, 2));
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball, ...extra], {
      cwd: dir,
      timeout: STEP_MS,
    });
    type Failure = { stdout?: string; stderr?: string; message: string };
    const exec = (file: string, args: string[], timeoutMs = STEP_MS) =>
      run(file, args, { cwd: dir, timeout: timeoutMs, killSignal: 'SIGKILL' }).catch((e: Failure) => {
        throw new Error(`${file} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
      });
    return { dir, tarball, exec, remove };
  } catch (e) {
    await remove();
    throw e;
  }
}

/**
 * The build rewrites client/ts/dist, which npm pack reads: test files in parallel forks (the Node and the
 * browser test) take turns. mkdir is atomic; a lock older than two build steps is from a killed run.
 */
async function withPackLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = join(tmpdir(), `tickwire-sdk-pack-${createHash('sha1').update(PKG_DIR).digest('hex').slice(0, 12)}.lock`);
  const deadline = Date.now() + 3 * STEP_MS;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const age = await stat(lock).then(
        (st) => Date.now() - st.mtimeMs,
        () => 0,
      );
      if (age > 2 * STEP_MS) await rm(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`${lock} held for too long`, { cause: e });
      else await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}
