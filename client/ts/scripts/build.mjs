// Builds the publishable package into client/ts/dist: one ESM bundle (the SDK plus the protocol modules
// it uses, @msgpack/msgpack left as a dependency) and its declarations. See ../README.md, "Install".
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const PKG = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(PKG, 'dist');
rmSync(DIST, { recursive: true, force: true });

await build({
  entryPoints: [join(PKG, 'src/index.ts')],
  outfile: join(DIST, 'index.js'),
  bundle: true,
  format: 'esm',
  // neutral: no Node builtins are allowed in (the build fails if one sneaks in) and browsers get the same file.
  platform: 'neutral',
  target: 'es2022',
  external: ['@msgpack/msgpack'],
  legalComments: 'none',
  logLevel: 'warning',
});

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(PKG, 'tsconfig.build.json')], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
// The declarations keep the repository layout (see tsconfig.build.json); this is their front door.
writeFileSync(join(DIST, 'index.d.ts'), "export * from './types/client/ts/src/index.js';\n");
