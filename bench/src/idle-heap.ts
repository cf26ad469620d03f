#!/usr/bin/env node
/**
 * Where the memory of an idle connection goes (issue 18 point 7): a gateway in this process (feed
 * paused, one symbol), a heap snapshot before and after N idle connections (bench/src/suite/
 * idle-clients.ts, in a child process, each with one subscription), and the difference per
 * connection by owner: V8 heap by constructor (self sizes), plus RSS, heapUsed and external.
 *
 *   node --expose-gc dist/bench/src/idle-heap.js [--count 2000] [--sub trade.BTC-USD] [--json]
 *
 * Native uWS memory (sockets, topic membership in its TopicTree) is outside the V8 heap: it shows
 * in RSS only, which is why both are printed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { loadConfig } from '../../gateway/src/config/load.js';
import { startGateway } from '../../gateway/src/gateway.js';
import { createLogger } from '../../gateway/src/log.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '2000' },
    sub: { type: 'string', default: 'trade.BTC-USD' },
    json: { type: 'boolean', default: false },
    /** Also list who holds the nodes of these owners (comma-separated keys of the table) that are new since the baseline. */
    retainers: { type: 'string', default: '' },
  },
});
const count = Number(values.count);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

interface Row {
  count: number;
  bytes: number;
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

/**
 * Self sizes of every heap node, by `type:name` (objects by constructor, the rest by node type);
 * and for the owners asked with --retainers, who holds their nodes and what those nodes hold.
 */
interface HeapSummary {
  rows: Map<string, Row>;
  /** `owner <- holder.edge` and `owner holds {edges}`: node counts, to diff between two snapshots. */
  held: Map<string, number>;
}

function heapByOwner(retainersOf: Set<string>): HeapSummary {
  const snap = JSON.parse(readAll(v8.getHeapSnapshot())) as Snapshot;
  const meta = snap.snapshot.meta;
  const fields = meta.node_fields;
  const types = meta.node_types[0];
  const width = fields.length;
  const at = (f: string) => fields.indexOf(f);
  const ti = at('type');
  const ni = at('name');
  const si = at('self_size');
  const ei = at('edge_count');
  const keyOf = (i: number) => {
    const type = types[snap.nodes[i + ti]!]!;
    const name = snap.strings[snap.nodes[i + ni]!]!;
    // Strings and numbers by type only: their "name" is their content.
    return type === 'object' || type === 'closure' || type === 'native' || type === 'hidden' ? `${type}:${name}` : type;
  };
  const rows = new Map<string, Row>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const key = keyOf(i);
    const row = rows.get(key) ?? { count: 0, bytes: 0 };
    row.count++;
    row.bytes += snap.nodes[i + si]!;
    rows.set(key, row);
  }
  // Counted over all nodes of the asked owners, not only the "new" ones: V8 gives an object
  // allocated where a dead one was (old space, pretenured) the dead one's snapshot id, so new
  // nodes cannot be told by id. The caller diffs the counts of the two snapshots instead.
  const held = new Map<string, number>();
  const bump = (k: string) => held.set(k, (held.get(k) ?? 0) + 1);
  if (retainersOf.size) {
    const ew = meta.edge_fields.length;
    const [eti, eni, eto] = ['type', 'name_or_index', 'to_node'].map((f) => meta.edge_fields.indexOf(f)) as [number, number, number];
    const etypes = meta.edge_types[0];
    // Element and hash-table slots are named by index: one name for all of them.
    const edgeName = (e: number, et: string) => {
      const n = et === 'element' || et === 'hidden' ? '' : snap.strings[snap.edges[e + eni]!]!;
      return n === '' || /^\d+$/.test(n) ? '[]' : n;
    };
    // One strong retainer per node (the first seen), to name what holds a holder that has no name
    // of its own (a hash table is `array`: its Map or Set, and who holds that, tell whose it is).
    const up = new Int32Array(snap.nodes.length / width).fill(-1);
    const upEdge = new Int32Array(snap.nodes.length / width);
    let e = 0;
    for (let i = 0; i < snap.nodes.length; i += width) {
      const n = snap.nodes[i + ei]!;
      for (let k = 0; k < n; k++, e += ew) {
        const to = snap.edges[e + eto]! / width;
        const et = etypes[snap.edges[e + eti]!]!;
        if (et !== 'weak' && et !== 'shortcut' && up[to] === -1) {
          up[to] = i;
          upEdge[to] = e;
        }
      }
    }
    const anonymous = (key: string) => key === 'array' || key.startsWith('hidden:') || key === 'object:Map' || key === 'object:Set';
    const holderOf = (i: number): string => {
      let key = keyOf(i);
      for (let depth = 0, at = i; depth < 3 && anonymous(keyOf(at)) && up[at / width]! >= 0; depth++) {
        const e2 = upEdge[at / width]!;
        at = up[at / width]!;
        key += ` < ${keyOf(at)}.${edgeName(e2, etypes[snap.edges[e2 + eti]!]!)}`;
      }
      return key;
    };
    e = 0;
    for (let i = 0; i < snap.nodes.length; i += width) {
      const from = holderOf(i);
      const own = retainersOf.has(from) ? ([] as string[]) : undefined;
      const n = snap.nodes[i + ei]!;
      for (let k = 0; k < n; k++, e += ew) {
        const to = snap.edges[e + eto]!;
        const et = etypes[snap.edges[e + eti]!]!;
        if (et === 'weak') continue;
        if (own && (et === 'property' || et === 'internal' || et === 'element' || et === 'context'))
          own.push(`${edgeName(e, et)}=${keyOf(to)}`);
        const toKey = keyOf(to);
        if (retainersOf.has(toKey)) bump(`${toKey} <- ${from}.${edgeName(e, et)} (${et})`);
      }
      if (own) bump(`${keyOf(i)} holds {${own.join(', ')}}`);
    }
  }
  return { rows, held };
}

function readAll(stream: NodeJS.ReadableStream): string {
  // getHeapSnapshot's stream is filled synchronously; read() drains it.
  const parts: string[] = [];
  let chunk: string | Buffer | null;
  while ((chunk = stream.read() as string | Buffer | null) !== null) parts.push(chunk.toString());
  return parts.join('');
}

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc!();
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function main(): Promise<void> {
  const cfg = loadConfig({
    env: {},
    argv: [],
    overrides: {
      workers: 1,
      port: 0,
      host: '127.0.0.1',
      feedRate: 0,
      feedSymbols: 'BTC-USD',
      logLevel: 'warn',
      maxConnectionsPerIp: 1_000_000,
      connectRatePerIp: 1_000_000,
    },
  });
  const gw = await startGateway(cfg, createLogger('warn'));
  // The topic must exist (have data) for a subscription to be live rather than waiting.
  await new Promise((r) => setTimeout(r, 500));
  // A first batch opened and closed: the code it compiles and the tables it grows are not per connection.
  const warm = await openClients(gw.port, Math.min(500, count), () => gw.hub.subscriptions);
  await warm.stop();
  while (gw.hub.subscriptions > 0) await new Promise((r) => setTimeout(r, 100));
  await settle();
  const retainersOf = new Set(values.retainers.split(',').filter(Boolean));
  const mem0 = process.memoryUsage();
  // Kept in a file until the second snapshot: held in this heap, the thousands of rows of the
  // first one (objects, key strings, their Map) would count as ~150 B per connection.
  const saved = join(mkdtempSync(join(tmpdir(), 'idle-heap-')), 'before.json');
  await snapshotAfterSettle(retainersOf).then((s) => writeFileSync(saved, JSON.stringify({ rows: [...s.rows], held: [...s.held] })));
  const clients = await openClients(gw.port, count, () => gw.hub.subscriptions);
  const open = clients.open;
  await settle();
  const mem = process.memoryUsage();
  const snap = await snapshotAfterSettle(retainersOf);
  const after = { mem, heap: snap.rows };
  const subs = gw.hub.subscriptions;
  await clients.stop();
  await gw.stop();
  const first = JSON.parse(readFileSync(saved, 'utf8')) as { rows: [string, Row][]; held: [string, number][] };
  rmSync(dirname(saved), { recursive: true });
  const snap0 = { rows: new Map(first.rows), held: new Map(first.held) };
  const before = { mem: mem0, heap: snap0.rows };

  const rows: { owner: string; count: number; bytesPerConn: number }[] = [];
  for (const [k, a] of after.heap) {
    const b = before.heap.get(k) ?? { count: 0, bytes: 0 };
    const bytes = (a.bytes - b.bytes) / open;
    if (Math.abs(bytes) >= 2) rows.push({ owner: k, count: (a.count - b.count) / open, bytesPerConn: bytes });
  }
  rows.sort((x, y) => y.bytesPerConn - x.bytesPerConn);
  const per = (k: 'rss' | 'heapUsed' | 'external') => (after.mem[k] - before.mem[k]) / open;
  const heapTotal = rows.reduce((a, r) => a + r.bytesPerConn, 0);
  const result = {
    connections: open,
    hubSubscriptions: subs,
    rssPerConn: per('rss'),
    heapUsedPerConn: per('heapUsed'),
    externalPerConn: per('external'),
    snapshotPerConn: heapTotal,
    rows,
  };
  if (values.json) return void process.stdout.write(`${JSON.stringify(result)}\n`);
  const r0 = (n: number) => n.toFixed(0);
  console.log(`${open} idle connections, ${subs} hub subscriptions (announcements + ${values.sub || 'none'})`);
  const heap = `heapUsed ${r0(result.heapUsedPerConn)} B, external ${r0(result.externalPerConn)} B`;
  console.log(`per connection: rss ${r0(result.rssPerConn)} B, ${heap}, snapshot self sizes ${r0(heapTotal)} B`);
  console.log('| owner (heap node) | nodes per conn | bytes per conn |\n|---|---:|---:|');
  for (const r of rows) console.log(`| ${r.owner} | ${r.count.toFixed(2)} | ${r0(r.bytesPerConn)} |`);
  const held = [...snap.held]
    .map(([k, n]) => [k, n - (snap0.held.get(k) ?? 0)] as const)
    .filter(([, n]) => Math.abs(n) >= open / 50)
    .sort((x, y) => y[1] - x[1]);
  const lines = held.map(([k, n]) => `  ${k}: ${(n / open).toFixed(2)}`);
  if (held.length) console.log(`\nNodes of ${values.retainers} by holder and by content, per connection:\n${lines.join('\n')}`);
}

/** `n` idle clients in a child process, once all are open and (with --sub) subscribed. */
async function openClients(port: number, n: number, subscriptions: () => number): Promise<{ open: number; stop(): Promise<void> }> {
  const script = fileURLToPath(new URL('./suite/idle-clients.js', import.meta.url));
  const args = [script, '--port', String(port), '--count', String(n), '--protocol', 'tickwire.v1.msgpack', '--addresses', '127.0.0.2'];
  if (values.sub) args.push('--sub', values.sub);
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((r) => child.once('exit', r));
  let open = 0;
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.startsWith('{"open"')) continue;
        const st = JSON.parse(line) as { open: number; done?: boolean };
        open = st.open;
        if (st.done) resolve();
      }
    });
    void exited.then(() => reject(new Error('idle-clients exited early')));
  });
  // The subscriptions arrive right after the upgrades: wait until the gateway has them all.
  const deadline = Date.now() + 20_000;
  while (subscriptions() < open * (values.sub ? 2 : 1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return {
    open,
    async stop() {
      child.stdin.end();
      await exited;
    },
  };
}

async function snapshotAfterSettle(retainersOf: Set<string>): Promise<HeapSummary> {
  await settle();
  return heapByOwner(retainersOf);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
