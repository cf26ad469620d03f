import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../gateway/src/gateway.js';
import { startTestGateway } from '../../../gateway/test/support/gateway.js';
import { packAndInstall, TSC, type InstalledProject } from './support/packed.js';

/**
 * Issue 17 point 1: what a user does with the SDK. `npm pack`, `npm install` of the tarball into a fresh
 * project, then a plain `node` ESM script (no tsx, no bundler) that imports `@tickwire/client` and
 * receives ticks from a real gateway, and `tsc` on a TypeScript file using the installed declarations.
 * The browser half is gateway/test/browser/sdk-package.test.ts.
 */

const CONSUMER = `
import { WebSocket } from 'ws';
import { TickwireClient } from '@tickwire/client';

const client = new TickwireClient({ url: process.argv[2], WebSocket, reconnect: false });
await client.connect({ timeoutMs: 10_000 });
const seqs = [];
let first;
for await (const ev of client.subscribe('trade.BTC-USD')) {
  if (ev.type === 'snap') first = ev.type;
  if (ev.type === 'tick') seqs.push(ev.seq);
  if (ev.type === 'gap' || ev.type === 'resync') throw new Error('unexpected ' + ev.type);
  if (seqs.length >= 20) break;
}
await client.close();
console.log(JSON.stringify({ first, seqs }));
`;

const TYPED = `
import { closeAction, TickwireClient, type CandleEvent, type OrderBook, type TickwireError, type TradeTick } from '@tickwire/client';

const client = new TickwireClient({ url: 'ws://127.0.0.1:9001/v1', format: 'json' });
client.subscribe('trade.BTC-USD', (ev) => {
  if (ev.type === 'tick') {
    const px: number = ev.tick.px;
    const side: 'b' | 's' = ev.tick.side;
    console.log(px, side);
  }
});
const trade: TradeTick = { ts: 1, px: 2, qty: 3, side: 'b' };
// @ts-expect-error a trade has no bid: the types are the real ones, not any
console.log(trade.bid);
const book: OrderBook = client.book('BTC-USD', { depth: 10, throttle: 100 });
book.onChange((ev, b) => {
  if (ev.type === 'change') console.log(ev.bids.length, b.bestBid?.[0], b.spread);
});
// @ts-expect-error there is no 5-level view
client.book('BTC-USD', { depth: 5 });
client.stats('BTC-USD', (ev) => {
  if (ev.type === 'tick') console.log(ev.tick.chgPct);
});
const candles: AsyncIterable<CandleEvent> = client.candles('candle.1m.BTC-USD', { history: 10 });
console.log(candles);
const action: 'reconnect' | 'stop' = closeAction(4008);
const code: TickwireError['code'] | undefined = undefined;
console.log(action, code);
`;

const TSCONFIG = {
  compilerOptions: {
    strict: true,
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['ES2022', 'DOM'],
    types: [],
    noEmit: true,
    // The point is to check the shipped .d.ts files too.
    skipLibCheck: false,
  },
  files: ['typed.ts'],
};

describe('@tickwire/client, packed and installed into a fresh project', () => {
  let project: InstalledProject;
  let gw: Gateway;

  beforeAll(async () => {
    [project, gw] = await Promise.all([packAndInstall(['ws@^8']), startTestGateway({ feedRate: 2_000 })]);
  });
  afterAll(async () => {
    await gw?.stop();
    await project?.remove();
  });

  it('ships only the build, the README and package.json', async () => {
    const { stdout } = await promisify(execFile)('tar', ['-tzf', project.tarball]);
    const files = stdout.trim().split('\n').sort();
    expect(files).toContain('package/dist/index.js');
    expect(files).toContain('package/dist/index.d.ts');
    expect(files).toContain('package/README.md');
    for (const f of files) expect(f, f).toMatch(/^package\/(dist\/.+\.(js|d\.ts)|README\.md|package\.json)$/);
    // Self-contained: the protocol modules are bundled, not imported from the repository.
    const js = await readFile(join(project.dir, 'node_modules/@tickwire/client/dist/index.js'), 'utf8');
    // Import statements start a line in esbuild's output (an error message in a string names 'ws').
    expect([...js.matchAll(/^import\s[^;]*?from\s*['"]([^'"]+)['"]/gm)].map((m) => m[1])).toEqual(['@msgpack/msgpack']);
    expect(js).not.toMatch(/\bimport\(/);
  });

  it('runs under plain node: connects to a real gateway and receives consecutive ticks', async () => {
    await writeFile(join(project.dir, 'consumer.mjs'), CONSUMER);
    const { stdout } = await project.exec(process.execPath, ['consumer.mjs', `ws://127.0.0.1:${gw.port}/v1`], 60_000);
    const { first, seqs } = JSON.parse(stdout.trim().split('\n').pop()!) as { first: string; seqs: number[] };
    expect(first).toBe('snap');
    expect(seqs).toHaveLength(20);
    seqs.forEach((s, i) => i > 0 && expect(s).toBe(seqs[i - 1]! + 1));
  });

  it("its declarations type-check a user file with the repository's TypeScript", async () => {
    await writeFile(join(project.dir, 'typed.ts'), TYPED);
    await writeFile(join(project.dir, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
    await project.exec(process.execPath, [TSC, '-p', 'tsconfig.json'], 60_000);
  });

  it('refuses deep imports: the exports map is the public surface', async () => {
    const deep = '@tickwire/client/dist/types/client/ts/src/codec.js';
    const probe = `import('${deep}').then(() => console.log('open'), (e) => console.log(e.code))`;
    const { stdout } = await project.exec(process.execPath, ['--input-type=module', '-e', probe]);
    expect(stdout.trim()).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });
});
