#!/usr/bin/env node
/**
 * `npm start`'s prestart: runs `npm run build` only when the build is missing or older than its
 * inputs, so a start with nothing changed (and `npm start -- --help`, or a config error) answers
 * at once instead of after a 15–40 s rebuild.
 *
 * The stamp (dist/.build-stamp) is written only after a successful build, and carries the time
 * the build STARTED: a source saved while the build was running is newer than the stamp, so the
 * next start builds again.
 *
 * Usage: node scripts/ensure-built.mjs [--force]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** What `npm run build` reads (tsconfig.json's include, scripts/build-web.mjs's inputs, the dependencies). */
export const INPUTS = [
  'protocol/src',
  'gateway/src',
  'feeds/src',
  'bench/src',
  'client/ts/src',
  'web',
  'tsconfig.json',
  'package.json',
  'package-lock.json',
  'scripts/build-web.mjs',
];
/** What a start needs; if one is gone (a `rm -rf dist/web`), the stamp alone does not vouch for it. */
export const OUTPUTS = ['dist/gateway/src/main.js', 'dist/web/index.html'];
export const STAMP = 'dist/.build-stamp';
const SKIP_DIRS = new Set(['node_modules', 'dist', '.cache', '__pycache__', '.git']);

/** The newest file or directory under `paths` (files or directories, relative to `root`); missing paths are skipped. */
export function newestInput(root, paths = INPUTS) {
  let newest = { path: undefined, mtimeMs: -Infinity };
  const visit = (abs) => {
    let st;
    try {
      st = statSync(abs);
    } catch {
      return; // a listed input that this checkout does not have
    }
    // A directory counts too: deleting or renaming a source changes only its directory's mtime.
    if ((st.isDirectory() || st.isFile()) && st.mtimeMs > newest.mtimeMs) newest = { path: relative(root, abs), mtimeMs: st.mtimeMs };
    if (st.isDirectory()) {
      for (const e of readdirSync(abs, { withFileTypes: true })) if (!(e.isDirectory() && SKIP_DIRS.has(e.name))) visit(join(abs, e.name));
    }
  };
  for (const p of paths) visit(join(root, p));
  return newest;
}

/** Whether `root` needs a build, and why: `{ stale: false }` or `{ stale: true, reason }`. */
export function staleness(root, { inputs = INPUTS, outputs = OUTPUTS, stamp = STAMP } = {}) {
  const missing = outputs.find((o) => !existsSync(join(root, o)));
  if (missing) return { stale: true, reason: `${missing} is missing` };
  let built;
  try {
    built = statSync(join(root, stamp)).mtimeMs;
  } catch {
    return { stale: true, reason: 'no record of a successful build' };
  }
  const newest = newestInput(root, inputs);
  if (newest.mtimeMs > built) return { stale: true, reason: `${newest.path} changed since the last build` };
  return { stale: false };
}

function npmBuild(root) {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  return spawnSync(npm, ['run', 'build'], { cwd: root, stdio: 'inherit' }).status === 0;
}

/**
 * Builds `root` when stale (or `force`), via `build(root)` → true on success. Returns whether a
 * build ran; throws when it failed (the stamp is then left as it was, so the next start retries).
 */
export function ensureBuilt(root = ROOT, { build = npmBuild, force = false, log = (m) => process.stderr.write(`${m}\n`), ...opts } = {}) {
  const s = force ? { stale: true, reason: '--force' } : staleness(root, opts);
  if (!s.stale) return false;
  log(`tickwire: building (${s.reason})`);
  const started = new Date();
  if (!build(root)) throw new Error('the build failed');
  const stampPath = join(root, opts.stamp ?? STAMP);
  mkdirSync(dirname(stampPath), { recursive: true });
  writeFileSync(stampPath, `${started.toISOString()}\n`);
  utimesSync(stampPath, started, started);
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    ensureBuilt(ROOT, { force: process.argv.includes('--force') });
  } catch (err) {
    process.stderr.write(`tickwire: ${err.message}\n`);
    process.exit(1);
  }
}
