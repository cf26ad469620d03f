#!/usr/bin/env node
/**
 * Builds the gateway's web pages: web/ → dist/web/ with esbuild.
 *
 *   dist/web/index.html        the live board (served at /)
 *   dist/web/ops.html          the operator view (served at /ops)
 *   dist/web/assets/board.js   web/board.ts + the TypeScript SDK (client/ts/src) + @msgpack/msgpack
 *   dist/web/assets/ops.js     web/ops.ts
 *   dist/web/assets/board.css  the stylesheet of both pages
 *   dist/web/assets/chunks/    code loaded on demand (the board's candle chart and its charting
 *                              library) and code both pages share, named by content hash
 *   (+ a .map next to each)
 *
 * Bundles are minified with external sourcemaps. The HTML references every asset as
 * `assets/<name>?v=<content hash>`, so the gateway can cache assets for a year (see
 * gateway/src/transport/static.ts) and a new build is still picked up at once.
 *
 * Usage: node scripts/build-web.mjs [--no-minify]
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const PAGES = ['index.html', 'ops.html'];
const ENTRIES = ['board.ts', 'ops.ts', 'board.css'];

/** @param {{ outdir?: string, minify?: boolean, quiet?: boolean }} [opts] */
export async function buildWeb({ outdir = `${ROOT}dist/web`, minify = true, quiet = false } = {}) {
  const src = `${ROOT}web`;
  await rm(outdir, { recursive: true, force: true });
  await mkdir(`${outdir}/assets`, { recursive: true });
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: ENTRIES.map((e) => `${src}/${e}`),
    outdir: `${outdir}/assets`,
    entryNames: '[name]',
    // Dynamic imports become chunks: the candle chart library loads only when a chart is opened.
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome109', 'firefox115', 'safari16'],
    tsconfig: `${src}/tsconfig.json`,
    minify,
    sourcemap: 'linked',
    charset: 'utf8',
    legalComments: 'linked',
    metafile: true,
    logLevel: 'warning',
  });

  // Content hashes of the outputs, for cache busting.
  const hashes = new Map();
  for (const out of Object.keys(result.metafile.outputs)) {
    const name = out.slice(out.indexOf('assets/') + 'assets/'.length);
    const body = await readFile(`${ROOT}${out}`);
    hashes.set(name, createHash('sha256').update(body).digest('hex').slice(0, 12));
  }
  for (const page of PAGES) {
    const html = (await readFile(`${src}/${page}`, 'utf8')).replace(/(href|src)="assets\/([^"?#]+)"/g, (m, attr, name) => {
      const hash = hashes.get(name);
      if (!hash) throw new Error(`web/${page} references assets/${name}, which the build did not produce`);
      return `${attr}="assets/${name}?v=${hash}"`;
    });
    await writeFile(`${outdir}/${page}`, html);
  }
  if (!quiet) {
    const lines = Object.entries(result.metafile.outputs)
      .filter(([f]) => !f.endsWith('.map'))
      .map(([f, o]) => `  ${f.slice(f.indexOf('assets/'))}  ${(o.bytes / 1024).toFixed(1)} KiB`);
    console.log(`web pages built in ${outdir}:\n  ${PAGES.join(', ')}\n${lines.join('\n')}`);
  }
  return { outdir, hashes };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await buildWeb({ minify: !process.argv.includes('--no-minify') });
}
