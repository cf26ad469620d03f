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

/** Self sizes of every heap node, by `type:name` (objects by constructor, the rest by node type). */
interface HeapSummary {
  rows: Map<string, Row>;
  ids: Set<number>;
  held: Map<string, number>;
}

function heapByOwner(seen?: Set<number>, retainersOf?: Set<string>): HeapSummary {
  const snap = JSON.parse(readAll(v8.getHeapSnapshot())) as Snapshot;
  const meta = snap.snapshot.meta;
  const fields = meta.node_fields;
  const types = meta.node_types[0];
  const width = fields.length;
  const at = (f: string) => fields.indexOf(f);
  const ti = at('type');
  const ni = at('name');
  const ii = at('id');
  const si = at('self_size');
  const ei = at('edge_count');
  const keyOf = (i: number) => {
    const type = types[snap.nodes[i + ti]!]!;
    const name = snap.strings[snap.nodes[i + ni]!]!;
    // Strings and numbers by type only: their "name" is their content.
    return type === 'object' || type === 'closure' || type === 'native' || type === 'hidden' ? `${type}:${name}` : type;
  };
  const rows = new Map<string, Row>();
  const ids = new Set<number>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const key = keyOf(i);
    ids.add(snap.nodes[i + ii]!);
    const row = rows.get(key) ?? { count: 0, bytes: 0 };
    row.count++;
    row.bytes += snap.nodes[i + si]!;
    rows.set(key, row);
  }
  // Who holds the new nodes of the asked owners: retainer owner, edge name.
  const held = new Map<string, number>();
  if (seen && retainersOf?.size) {
    const ew = meta.edge_fields.length;
    const [eti, eni, eto] = ['type', 'name_or_index', 'to_node'].map((f) => meta.edge_fields.indexOf(f)) as [number, number, number];
    const etypes = meta.edge_types[0];
    let e = 0;
    for (let i = 0; i < snap.nodes.length; i += width) {
      const n = snap.nodes[i + ei]!;
      for (let k = 0; k < n; k++, e += ew) {
        const to = snap.edges[e + eto]!;
        const toKey = keyOf(to);
        if (!retainersOf.has(toKey) || seen.has(snap.nodes[to + ii]!)) continue;
        const et = etypes[snap.edges[e + eti]!]!;
        const en = et === 'element' || et === 'hidden' ? '[]' : snap.strings[snap.edges[e + eni]!]!;
        if (et === 'weak') continue;
        const key = `${toKey} <- ${keyOf(i)}.${en} (${et})`;
        held.set(key, (held.get(key) ?? 0) + 1);
      }
    }
  }
  return { rows, ids, held };
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
  const before = { mem: process.memoryUsage(), heap: (await snapshotAfterSettle()).rows };
  const ids = values.retainers ? (await snapshotAfterSettle()).ids : undefined;
  const clients = await openClients(gw.port, count, () => gw.hub.subscriptions);
  const open = clients.open;
  await settle();
  const mem = process.memoryUsage();
  const snap = await snapshotAfterSettle(ids, new Set(values.retainers.split(',').filter(Boolean)));
  const after = { mem, heap: snap.rows };
  const subs = gw.hub.subscriptions;
  await clients.stop();
  await gw.stop();

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
  const held = [...snap.held].filter(([, n]) => n >= open / 50).sort((x, y) => y[1] - x[1]);
  const lines = held.map(([k, n]) => `  ${k}: ${(n / open).toFixed(2)}`);
  if (held.length) console.log(`\nNew nodes by holder (edges per connection):\n${lines.join('\n')}`);
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

async function snapshotAfterSettle(seen?: Set<number>, retainersOf?: Set<string>): Promise<HeapSummary> {
  await settle();
  return heapByOwner(seen, retainersOf);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
