import { build, type Plugin } from 'esbuild';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { utf8Length } from '../src/payload.js';

/**
 * The protocol package must load in a browser: the TypeScript SDK bundles it. Two checks: the
 * public surface (index.ts) bundles for `platform: 'browser'` with no Node builtin reached, and
 * the bundle runs in a context that has no Node globals; plus an import grep over every source
 * file, so Node-side tooling by path (record, fixtures) stays free of Node modules too.
 */
const SRC = new URL('../src/', import.meta.url);
const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
/** Packages protocol/src may import; everything else is relative to protocol/src. */
const ALLOWED_PACKAGES = new Set(['msgpackr', '@msgpack/msgpack']);

/** Records every Node builtin the bundle tries to reach, instead of letting esbuild's error name only the first. */
function builtinSpy(seen: string[]): Plugin {
  return {
    name: 'builtin-spy',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (NODE_BUILTINS.has(args.path)) seen.push(`${args.path} (from ${args.importer})`);
        return undefined;
      });
    },
  };
}

async function bundle(): Promise<{ code: string; builtins: string[] }> {
  const builtins: string[] = [];
  const out = await build({
    entryPoints: [new URL('index.ts', SRC).pathname],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    globalName: 'tickwireProtocol',
    write: false,
    logLevel: 'silent',
    plugins: [builtinSpy(builtins)],
  }).catch((e: { errors?: { text: string }[] }) => {
    throw new Error(`esbuild failed: ${(e.errors ?? []).map((x) => x.text).join('; ')}`);
  });
  return { code: out.outputFiles[0]!.text, builtins };
}

function importsOf(source: string): string[] {
  const specs: string[] = [];
  for (const m of source.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;'"]*?from\s*['"]([^'"]+)['"]/g)) specs.push(m[1]!);
  for (const m of source.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.push(m[1]!);
  for (const m of source.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)) specs.push(m[1]!);
  return specs;
}

describe('protocol/src is browser-safe', () => {
  it('bundles index.ts for the browser without reaching any Node builtin', async () => {
    const { builtins } = await bundle();
    expect(builtins).toEqual([]);
  });

  it('loads and works in a context without Node globals (no Buffer, process, require)', async () => {
    const { code } = await bundle();
    const sandbox: Record<string, unknown> = { TextEncoder, TextDecoder, console };
    runInNewContext(`${code}\nthis.p = tickwireProtocol;`, sandbox);
    const p = sandbox.p as typeof import('../src/index.js');
    expect(p.parseTopic('trade.BTC-USD')).toEqual({ kind: 'trade', symbol: 'BTC-USD' });
    expect(p.ACCEPTED_SUBPROTOCOLS).toEqual([
      'tickwire.v1.msgpack',
      'tickwire.v1.json',
      'tickwire.v1.msgpack+deflate',
      'tickwire.v1.msgpack-compact',
      'tickwire.v1.msgpack-compact+deflate.d1',
    ]);
    const frame = p.jsonCodec.encode({ op: 'pong', id: 3 });
    expect(p.jsonCodec.decode(frame)).toEqual({ op: 'pong', id: 3 });
    expect(p.checkPayload({ note: 'héllo' }, { maxDepth: 4, maxBytes: 1024 })).toBeUndefined();
  });

  it('no source file imports Node, uWS, kafkajs, pino or anything outside protocol/src', () => {
    const offending: string[] = [];
    for (const file of readdirSync(SRC).filter((f) => f.endsWith('.ts'))) {
      for (const spec of importsOf(readFileSync(new URL(file, SRC), 'utf8'))) {
        const local = spec.startsWith('./') && !spec.includes('/', 2);
        if (!local && !ALLOWED_PACKAGES.has(spec)) offending.push(`${file}: ${spec}`);
      }
    }
    expect(offending).toEqual([]);
  });

  it('the import grep sees the forms it must catch', () => {
    const src = [
      "import { a } from 'node:zlib';",
      "import type { B } from '../../gateway/src/x.js';",
      "export * from 'pino';",
      "import 'kafkajs';",
      "const u = await import('uWebSockets.js');",
    ].join('\n');
    expect(importsOf(src)).toEqual(['node:zlib', '../../gateway/src/x.js', 'pino', 'uWebSockets.js', 'kafkajs']);
  });

  it('counts UTF-8 bytes as Buffer.byteLength does (payload bounds without Buffer)', () => {
    for (const s of ['', 'abc', 'é', '€', '😀', 'a\ud800b', '\udc00', 'x😀\ud83d']) {
      expect(utf8Length(s)).toBe(Buffer.byteLength(s, 'utf8'));
    }
  });
});
