/**
 * Idle connections (P9, P9b).
 *
 * P9 — memory per idle connection: the server's RSS growth ÷ connections, tickwire vs a plain
 * `ws` server (baselines/ws-json.ts), both with the feed paused (rate 0) and the same idle
 * clients (bench/src/suite/idle-clients.ts: raw TCP sockets that upgrade and then only read),
 * sampled at 0, ½ and all of the connections, each once RSS has settled (OBSERVE_MS), with the
 * floor that uWS itself sets (baselines/uws-raw.ts) measured the same way.
 *
 * P9b — the most idle connections tickwire holds on this machine: as many as possible up to the
 * goal (100 000; 2 000 in --quick), from source addresses 127.0.0.2, 127.0.0.3, ... (at most
 * 20 000 per address, so ephemeral ports never run out), with the open-files limit of every
 * child raised as far as this machine allows (past `ulimit -Hn` when the suite has
 * CAP_SYS_RESOURCE, e.g. as root; see proc.ts `fdLimits`); bounded in time. The gateway is one
 * process, so its own limit is the ceiling; the clients are split over as many processes as
 * their limits need.
 *
 * idle-multi — what one process cannot: 100 000 idle connections (3 000 over 3 in --quick) over several
 * gateway processes on this machine (6 in a full run, each under the open-files limit), each with
 * its own client process and source addresses; reports the gateways' RSS growth per connection
 * and in total. Loopback only, bounded in time, every process stopped at the end. `--only idle`
 * runs both; `--only idle-multi` this one alone.
 */
import { lineChart } from '../charts.js';
import { processMemory } from '../../cpu.js';
import { scrapeMetrics } from '../metrics.js';
import { goalResult, notMeasured } from '../goals.js';
import { fmt, round, sleep } from '../stats.js';
import { fdCeiling, fdLimits, startNodeProcess, suiteModule, type ServerProcess } from '../proc.js';
import { startServer } from '../servers.js';
import type { GoalResult, Scenario, ScenarioContext, ScenarioResult } from '../types.js';

const PER_ADDRESS = 20_000;
/**
 * Connections per source address in idle-multi: the kernel's search for a free port of an address
 * slows down as its range fills, and with 100 000 connections to make that search (system CPU)
 * stalled the ramp at ~56 000 on this machine with 16 667 per address.
 */
const MULTI_PER_ADDRESS = 4_000;
/** fds a process needs besides its connections. */
const FD_HEADROOM = 200;

interface ClientsStatus {
  open: number;
  failed: number;
  pending: number;
  errors: Record<string, number>;
  done?: boolean;
}

interface IdleClients {
  proc: ServerProcess;
  status: ClientsStatus;
}

async function openIdle(
  port: number,
  count: number,
  addresses: string[],
  fdLimit: number,
  protocol: string,
  onStatus?: (s: ClientsStatus) => void,
  perAddress = PER_ADDRESS,
): Promise<IdleClients> {
  const holder: { status: ClientsStatus } = { status: { open: 0, failed: 0, pending: 0, errors: {} } };
  const proc = await startNodeProcess(
    'idle-clients',
    suiteModule('idle-clients'),
    [
      '--port',
      String(port),
      '--count',
      String(count),
      '--addresses',
      addresses.join(','),
      '--per-address',
      String(perAddress),
      ...(protocol ? ['--protocol', protocol] : []),
    ],
    {
      ready: /^\{"port":(\d+),"ready":true/,
      fdLimit,
      stdin: true,
      onLine: (line) => {
        if (!line.startsWith('{"open"')) return;
        try {
          holder.status = JSON.parse(line) as ClientsStatus;
          onStatus?.(holder.status);
        } catch {
          // partial line
        }
      },
    },
  );
  return {
    proc,
    get status() {
      return holder.status;
    },
  };
}

async function waitDone(sets: IdleClients[], deadline: number): Promise<boolean> {
  while (Date.now() < deadline) {
    if (sets.every((s) => s.status.done)) return true;
    await sleep(200);
  }
  return false;
}

function rssMB(pid: number): number {
  try {
    return processMemory(pid).rssBytes / 1048576;
  } catch {
    return NaN;
  }
}

/** RSS after it settles: the mean of a few samples (shorter waits in --quick). */
async function settledRss(pid: number, quick: boolean): Promise<number> {
  await sleep(quick ? 500 : 1500);
  const xs: number[] = [];
  for (let i = 0; i < 3; i++) {
    xs.push(rssMB(pid));
    await sleep(quick ? 100 : 250);
  }
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function addressesFor(first: number, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `127.0.0.${first + i}`);
}

/**
 * How long RSS is watched at each point of a memory run. Right after a ramp of connections the
 * heap still holds the handshakes' garbage and a young generation grown by the burst; V8 gives
 * them back once allocation has been low for a while (its memory reducer: about 8 s, then a few
 * GCs 0.5 s apart), and idle connections stay for minutes. Measured here: both node servers'
 * RSS dropped 9–15 s after a 10 000-connection ramp (tickwire 105 → 82 MB, ws 127 → 95 MB) and
 * stayed there. The window covers that with room for a busy machine.
 */
const OBSERVE_MS = 25_000;
/** The settled figure: the median of the samples in the window's last part. */
const SETTLED_TAIL_MS = 5_000;

interface RssObservation {
  /** Right after the point was reached (what a short settle sees; reported, not the goal). */
  earlyMB: number;
  /** Median over the window's tail: the memory the connections keep. */
  settledMB: number;
  /** Every sample: ms since the point was reached, RSS MB. */
  samples: [number, number][];
}

/** Watches a process's RSS for `windowMs` (sampling every 500 ms); see OBSERVE_MS. */
async function observeRss(pid: number, windowMs: number): Promise<RssObservation> {
  const t0 = Date.now();
  const samples: [number, number][] = [];
  for (;;) {
    const ms = Date.now() - t0;
    samples.push([ms, round(rssMB(pid), 2)]);
    if (ms >= windowMs) break;
    await sleep(500);
  }
  const tailFrom = windowMs - Math.min(SETTLED_TAIL_MS, windowMs / 2);
  const tail = samples
    .filter(([ms]) => ms >= tailFrom)
    .map(([, mb]) => mb)
    .sort((a, b) => a - b);
  const early = samples.slice(0, 4).map(([, mb]) => mb);
  return {
    earlyMB: early.reduce((a, b) => a + b, 0) / early.length,
    settledMB: tail[Math.floor(tail.length / 2)] ?? NaN,
    samples,
  };
}

interface MemoryRun {
  server: string;
  connections: number;
  reached: number;
  /** Settled RSS at 0, ½ and all of the connections. */
  points: { connections: number; rssMB: number; earlyRssMB: number }[];
  /** Settled RSS growth ÷ connections (the goal's figure). */
  bytesPerConnection: number;
  /** The same from the samples right after each point (what a 2-second settle reported before). */
  earlyBytesPerConnection: number;
  observations: RssObservation[];
  errors: Record<string, number>;
}

async function memoryRun(
  ctx: ScenarioContext,
  id: 'tickwire' | 'ws-json' | 'uws-raw',
  count: number,
  fdLimit: number,
  timeoutMs: number,
): Promise<MemoryRun> {
  const server = await startServer(id, { rate: 0, symbols: ['BTC-USD'] }, { fdLimit });
  const sets: IdleClients[] = [];
  try {
    const windowMs = ctx.opts.quick ? 3_000 : OBSERVE_MS;
    const observations: RssObservation[] = [];
    const observe = async (connections: number): Promise<void> => {
      ctx.progress(`memory ${id}: ${connections} idle connections; watching RSS for ${windowMs / 1000} s`);
      const o = await observeRss(server.pid, windowMs);
      observations.push(o);
      points.push({ connections, rssMB: o.settledMB, earlyRssMB: round(o.earlyMB, 2) });
    };
    const points: MemoryRun['points'] = [];
    await observe(0);
    const half = Math.floor(count / 2);
    const protocol = id === 'tickwire' ? 'tickwire.v1.msgpack' : '';
    const deadline = Date.now() + timeoutMs;
    for (const [k, n] of [half, count - half].entries()) {
      const set = await openIdle(server.port, n, addressesFor(2 + k, 1), Math.min(fdLimit, n + FD_HEADROOM + 100), protocol, (s) =>
        ctx.progress(`memory ${id}: ${sets.reduce((a, x) => a + x.status.open, 0)}/${count} idle connections (${s.failed} failed)`),
      );
      sets.push(set);
      await waitDone([set], deadline);
      await observe(sets.reduce((a, x) => a + x.status.open, 0));
    }
    const last = points[points.length - 1]!;
    const reached = last.connections;
    const errors: Record<string, number> = {};
    for (const s of sets) for (const [e, n] of Object.entries(s.status.errors)) errors[e] = (errors[e] ?? 0) + n;
    return {
      server: id,
      connections: count,
      reached,
      points,
      bytesPerConnection: reached > 0 ? ((last.rssMB - points[0]!.rssMB) * 1048576) / reached : NaN,
      earlyBytesPerConnection: reached > 0 ? ((last.earlyRssMB - points[0]!.earlyRssMB) * 1048576) / reached : NaN,
      observations,
      errors,
    };
  } finally {
    for (const s of sets) await s.proc.stop();
    await server.stop();
  }
}

interface MaxRun {
  target: number;
  cap: number;
  /** The gateway's open-files limit. */
  gatewayFdLimit: number;
  fdHardLimit: number;
  fdLimitRaisable: boolean;
  reached: number;
  gatewayConnections: number;
  seconds: number;
  connectsPerSec: number;
  rssMB: number;
  rssMBAtStart: number;
  points: { connections: number; rssMB: number; t: number }[];
  errors: Record<string, number>;
  timedOut: boolean;
}

async function maxRun(ctx: ScenarioContext, target: number, timeoutMs: number): Promise<MaxRun> {
  const fd = fdLimits();
  const hard = fd.hard;
  const gatewayFd = fdCeiling(target + FD_HEADROOM * 2);
  const cap = Math.max(0, Math.min(target, gatewayFd - FD_HEADROOM));
  const server = await startServer('tickwire', { rate: 0, symbols: ['BTC-USD'] }, { fdLimit: gatewayFd });
  const sets: IdleClients[] = [];
  const t0 = Date.now();
  const points: MaxRun['points'] = [];
  try {
    const rss0 = await settledRss(server.pid, ctx.opts.quick);
    points.push({ connections: 0, rssMB: round(rss0, 2), t: 0 });
    // Client processes of at most fdCap − headroom connections each, with their own source addresses.
    const perProc = Math.max(1, fdCeiling(cap + FD_HEADROOM) - FD_HEADROOM);
    let left = cap;
    let nextAddr = 2;
    while (left > 0) {
      const n = Math.min(left, perProc);
      const nAddr = Math.ceil(n / PER_ADDRESS);
      sets.push(await openIdle(server.port, n, addressesFor(nextAddr, nAddr), fdCeiling(n + FD_HEADROOM), 'tickwire.v1.msgpack'));
      nextAddr += nAddr;
      left -= n;
    }
    const deadline = t0 + timeoutMs;
    let lastPoint = 0;
    while (Date.now() < deadline && !sets.every((s) => s.status.done)) {
      const open = sets.reduce((a, s) => a + s.status.open, 0);
      ctx.progress(
        `max idle connections: ${fmt(open, 1)} of ${fmt(cap, 0)} open (target ${fmt(target, 0)}, gateway fd limit ${gatewayFd}) ` +
          `| gateway rss ${rssMB(server.pid).toFixed(0)} MB | ${((Date.now() - t0) / 1000).toFixed(0)} s`,
      );
      if (Date.now() - lastPoint > 1000) {
        lastPoint = Date.now();
        points.push({ connections: open, rssMB: round(rssMB(server.pid), 1), t: round((Date.now() - t0) / 1000, 1) });
      }
      await sleep(250);
    }
    const timedOut = !sets.every((s) => s.status.done);
    const seconds = (Date.now() - t0) / 1000;
    await sleep(ctx.opts.quick ? 500 : 2000); // hold them: do they stay open?
    const reached = sets.reduce((a, s) => a + s.status.open, 0);
    let gatewayConnections = NaN;
    try {
      gatewayConnections = (await scrapeMetrics(server.port, 5000)).tickwire_connections ?? NaN;
    } catch {
      // metrics unavailable
    }
    const rss = rssMB(server.pid);
    points.push({ connections: reached, rssMB: round(rss, 1), t: round((Date.now() - t0) / 1000, 1) });
    const errors: Record<string, number> = {};
    for (const s of sets) for (const [e, n] of Object.entries(s.status.errors)) errors[e] = (errors[e] ?? 0) + n;
    return {
      target,
      cap,
      gatewayFdLimit: gatewayFd,
      fdHardLimit: hard,
      fdLimitRaisable: fd.raisable,
      reached,
      gatewayConnections,
      seconds: round(seconds, 1),
      connectsPerSec: round(reached / seconds, 0),
      rssMB: round(rss, 1),
      rssMBAtStart: round(rss0, 1),
      points,
      errors,
      timedOut,
    };
  } finally {
    for (const s of sets) await s.proc.stop();
    await server.stop();
  }
}

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const q = ctx.opts.quick;
  const memCount = q ? 1000 : 10_000;
  const target = q ? 2000 : 100_000;
  const fdLimit = fdCeiling(memCount + 2000);
  const goals: GoalResult[] = [];
  const notes: string[] = [];
  const data: Record<string, unknown> = {};

  let tw: MemoryRun | undefined;
  let ws: MemoryRun | undefined;
  let raw: MemoryRun | undefined;
  try {
    tw = await memoryRun(ctx, 'tickwire', memCount, fdLimit, q ? 30_000 : 120_000);
    ctx.log(
      `memory tickwire: ${tw.reached} idle connections, ${fmt(tw.bytesPerConnection, 2)} B each ` +
        `(rss ${tw.points.map((p) => p.rssMB).join(' → ')} MB)`,
    );
    ws = await memoryRun(ctx, 'ws-json', memCount, fdLimit, q ? 30_000 : 120_000);
    ctx.log(
      `memory ws: ${ws.reached} idle connections, ${fmt(ws.bytesPerConnection, 2)} B each ` +
        `(rss ${ws.points.map((p) => p.rssMB).join(' → ')} MB)`,
    );
    // The floor: uWS itself, with no session, hub or transport state per connection.
    raw = await memoryRun(ctx, 'uws-raw', memCount, fdLimit, q ? 30_000 : 120_000);
    ctx.log(
      `memory raw uWS: ${raw.reached} idle connections, ${fmt(raw.bytesPerConnection, 2)} B each ` +
        `(rss ${raw.points.map((p) => p.rssMB).join(' → ')} MB)`,
    );
  } catch (e) {
    notes.push(`Memory runs failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  data.memory = { tickwire: tw, ws, uwsRaw: raw };
  if (tw && ws && tw.reached > 0 && ws.reached > 0) {
    goals.push(
      goalResult(
        'P9',
        tw.bytesPerConnection / ws.bytesPerConnection,
        {
          tickwireBytesPerConnection: round(tw.bytesPerConnection, 0),
          wsBytesPerConnection: round(ws.bytesPerConnection, 0),
          tickwireConnections: tw.reached,
          wsConnections: ws.reached,
          tickwireRssMB: tw.points,
          wsRssMB: ws.points,
          uwsRawBytesPerConnection: raw && raw.reached > 0 ? round(raw.bytesPerConnection, 0) : null,
          uwsRawRssMB: raw?.points ?? null,
          earlyRatio: round(tw.earlyBytesPerConnection / ws.earlyBytesPerConnection, 3),
          tickwireEarlyBytesPerConnection: round(tw.earlyBytesPerConnection, 0),
          wsEarlyBytesPerConnection: round(ws.earlyBytesPerConnection, 0),
        },
        `settled RSS growth ÷ connections with ${memCount} idle connections each (feed paused; RSS watched ` +
          `${(q ? 3_000 : OBSERVE_MS) / 1000} s at each point, median of the last ${(q ? 1_500 : SETTLED_TAIL_MS) / 1000} s): ` +
          `tickwire ${fmt(tw.bytesPerConnection, 2)} B, ws ${fmt(ws.bytesPerConnection, 2)} B per connection` +
          (raw && raw.reached > 0
            ? `; the floor, raw uWS with no per-connection state of its own (baselines/uws-raw.ts): ${fmt(raw.bytesPerConnection, 2)} B`
            : '') +
          `; right after each ramp (before V8 returns the burst's garbage): tickwire ${fmt(tw.earlyBytesPerConnection, 2)} B, ` +
          `ws ${fmt(ws.earlyBytesPerConnection, 2)} B, ratio ${round(tw.earlyBytesPerConnection / ws.earlyBytesPerConnection, 3)}`,
      ),
    );
  } else {
    goals.push(notMeasured('P9', 'not measured: a memory run failed (see the scenario notes)'));
  }

  let mx: MaxRun | undefined;
  try {
    mx = await maxRun(ctx, target, q ? 40_000 : 300_000);
    ctx.log(
      `max idle connections: ${mx.reached} open of ${mx.cap} attempted (target ${mx.target}, gateway fd ` +
        `limit ${mx.gatewayFdLimit}) in ${mx.seconds} s; gateway rss ${mx.rssMB} MB`,
    );
  } catch (e) {
    notes.push(`Max-connections run failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  data.max = mx;
  if (mx) {
    // Capped below the goal (by the fd hard limit, or by the quick target): the goal was not tried.
    const limited = mx.cap < 100_000;
    const note = [
      `${mx.reached} connections held (gateway reports ${mx.gatewayConnections}) of ${mx.cap} attempted in ${mx.seconds} s ` +
        `(${mx.connectsPerSec}/s), gateway RSS ${mx.rssMBAtStart} → ${mx.rssMB} MB`,
      mx.cap < mx.target
        ? `capped by the gateway's open-files limit ${mx.gatewayFdLimit} (one process, one fd per connection): ${fdLimits().why}; ` +
          `so ${mx.target} is out of reach on this machine`
        : '',
      q ? 'quick mode: target 2 000, so the 100 000 goal is not tried (pass: null; a full run aims at 100 000)' : '',
      mx.timedOut ? 'the time bound ended the ramp' : '',
      Object.keys(mx.errors).length
        ? `client errors: ${Object.entries(mx.errors)
            .map(([k, v]) => `${k} ×${v}`)
            .join('; ')}`
        : '',
    ]
      .filter(Boolean)
      .join('; ');
    goals.push(goalResult('P9b', mx.reached, { ...mx, points: undefined }, note, limited ? null : undefined));
  } else {
    goals.push(notMeasured('P9b', 'not measured: the max-connections run failed'));
  }

  notes.push(
    'Idle clients are raw TCP sockets (bench/src/suite/idle-clients.ts) that complete the WebSocket upgrade and then only read ' +
      '(tickwire sends every connection a heartbeat every 2 s) and send a ping every 20–40 s; they subscribe to nothing. Memory is ' +
      "the server process's RSS (VmRSS), so it includes whatever the allocator keeps; every server runs with the feed paused. " +
      'At 0, half and all of the connections RSS is watched for a while and the goal takes its settled value (the median of the ' +
      "window's last seconds): right after a ramp a node server's heap still holds the handshakes' garbage and a young " +
      'generation grown by the burst, which V8 returns once allocation has been low for ~8 s; idle connections stay for ' +
      'minutes, so what they keep is the settled figure. The figure right after each ramp is in the note and the data. ' +
      'Raw uWS (baselines/uws-raw.ts, no state of its own per connection) shows the floor uWS sets for any server built on it.',
  );
  if (mx && mx.cap < mx.target && mx.cap < 100_000)
    notes.push(
      `P9b has pass: null here: the attempt itself was capped below the goal by the gateway process's open-files limit ` +
        `(${mx.gatewayFdLimit}; ${fdLimits().why}), so the goal could not be tried; the value is what this machine allows, not a ` +
        `gateway limit. On a machine where the suite may raise the limit (root with CAP_SYS_RESOURCE), it gives the gateway and ` +
        `each client process the file descriptors they need, up to /proc/sys/fs/nr_open.`,
    );
  const series: { x: number; y: number; series: string }[] = [];
  const names: Record<string, string> = { tickwire: 'tickwire', 'ws-json': 'plain ws', 'uws-raw': 'raw uWS' };
  for (const r of [tw, ws, raw]) if (r) for (const p of r.points) series.push({ x: p.connections, y: p.rssMB, series: names[r.server]! });
  if (mx) for (const p of mx.points) series.push({ x: p.connections, y: p.rssMB, series: 'tickwire (max run)' });
  return {
    goals,
    data,
    notes,
    charts: [lineChart('idle-memory', 'Server RSS against idle connections', series, { xTitle: 'idle connections', yTitle: 'RSS (MB)' })],
  };
}

interface MultiRun {
  gateways: number;
  target: number;
  /** Connections asked of each gateway (its open-files limit minus headroom, at most target ÷ gateways). */
  perGateway: number;
  gatewayFdLimit: number;
  reached: number;
  /** What the gateways' /metrics report, summed. */
  gatewayConnections: number;
  seconds: number;
  rssMBAtStart: number;
  rssMB: number;
  bytesPerConnection: number;
  perProcess: { port: number; reached: number; rssMBAtStart: number; rssMB: number }[];
  errors: Record<string, number>;
  timedOut: boolean;
}

async function multiRun(ctx: ScenarioContext, gateways: number, target: number, timeoutMs: number): Promise<MultiRun> {
  const gatewayFd = fdCeiling(Math.ceil(target / gateways) + FD_HEADROOM * 2);
  const perGateway = Math.max(0, Math.min(Math.ceil(target / gateways), gatewayFd - FD_HEADROOM));
  const servers: ServerProcess[] = [];
  const sets: IdleClients[] = [];
  const t0 = Date.now();
  try {
    const feed = { rate: 0, symbols: ['BTC-USD'] };
    for (let i = 0; i < gateways; i++) servers.push(await startServer('tickwire', feed, { fdLimit: gatewayFd }));
    const rss0 = await Promise.all(servers.map((s) => settledRss(s.pid, ctx.opts.quick)));
    // One client process per gateway, with source addresses of its own (ports are per source address).
    let nextAddr = 2;
    for (const server of servers) {
      const nAddr = Math.ceil(perGateway / MULTI_PER_ADDRESS);
      const addresses = addressesFor(nextAddr, nAddr);
      const fd = fdCeiling(perGateway + FD_HEADROOM);
      sets.push(await openIdle(server.port, perGateway, addresses, fd, 'tickwire.v1.msgpack', undefined, MULTI_PER_ADDRESS));
      nextAddr += nAddr;
    }
    const deadline = t0 + timeoutMs;
    while (Date.now() < deadline && !sets.every((s) => s.status.done)) {
      const open = sets.reduce((a, s) => a + s.status.open, 0);
      const secs = ((Date.now() - t0) / 1000).toFixed(0);
      ctx.progress(`idle connections over ${gateways} gateways: ${fmt(open, 1)} of ${fmt(perGateway * gateways, 0)} open | ${secs} s`);
      await sleep(500);
    }
    const timedOut = !sets.every((s) => s.status.done);
    const seconds = (Date.now() - t0) / 1000;
    const rss = await Promise.all(servers.map((s) => settledRss(s.pid, ctx.opts.quick)));
    const perProcess = servers.map((s, i) => ({
      port: s.port,
      reached: sets[i]?.status.open ?? 0,
      rssMBAtStart: round(rss0[i]!, 1),
      rssMB: round(rss[i]!, 1),
    }));
    let gatewayConnections = 0;
    for (const s of servers) {
      try {
        gatewayConnections += (await scrapeMetrics(s.port, 5000)).tickwire_connections ?? NaN;
      } catch {
        gatewayConnections = NaN;
      }
    }
    const reached = perProcess.reduce((a, p) => a + p.reached, 0);
    const sum = (xs: number[]) => xs.reduce((a, x) => a + x, 0);
    const errors: Record<string, number> = {};
    for (const s of sets) for (const [e, n] of Object.entries(s.status.errors)) errors[e] = (errors[e] ?? 0) + n;
    return {
      gateways,
      target,
      perGateway,
      gatewayFdLimit: gatewayFd,
      reached,
      gatewayConnections,
      seconds: round(seconds, 1),
      rssMBAtStart: round(sum(rss0), 1),
      rssMB: round(sum(rss), 1),
      bytesPerConnection: reached > 0 ? ((sum(rss) - sum(rss0)) * 1048576) / reached : NaN,
      perProcess,
      errors,
      timedOut,
    };
  } finally {
    for (const s of sets) await s.proc.stop();
    for (const s of servers) await s.stop();
  }
}

async function runMulti(ctx: ScenarioContext): Promise<ScenarioResult> {
  const q = ctx.opts.quick;
  const gateways = q ? 3 : 6;
  const target = q ? 3000 : 100_000;
  const notes: string[] = [];
  let mr: MultiRun | undefined;
  try {
    mr = await multiRun(ctx, gateways, target, q ? 60_000 : 300_000);
    const rss = `gateway RSS ${mr.rssMBAtStart} → ${mr.rssMB} MB, ${fmt(mr.bytesPerConnection, 2)} B per connection`;
    ctx.log(`${mr.reached} idle connections over ${mr.gateways} gateways in ${mr.seconds} s: ${rss}`);
  } catch (e) {
    notes.push(`Multi-process run failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (mr) {
    notes.push(
      [
        `${mr.reached} connections held (gateways report ${mr.gatewayConnections}) of ${mr.perGateway * mr.gateways} attempted ` +
          `(${mr.gateways} gateway processes × ${mr.perGateway}, open-files limit ${mr.gatewayFdLimit} each) in ${mr.seconds} s`,
        `gateways' RSS ${mr.rssMBAtStart} → ${mr.rssMB} MB in total: ${fmt(mr.bytesPerConnection, 2)} B per connection`,
        mr.timedOut ? 'the time bound ended the ramp' : '',
        Object.keys(mr.errors).length
          ? `client errors: ${Object.entries(mr.errors)
              .map(([k, v]) => `${k} ×${v}`)
              .join('; ')}`
          : '',
      ]
        .filter(Boolean)
        .join('; '),
    );
  }
  return { goals: [], data: { multi: mr }, notes, charts: [] };
}

export const scenarios: Scenario[] = [
  { id: 'idle', group: 'idle', title: 'Idle connections: memory per connection and the most held (P9)', quick: true, run },
  {
    id: 'idle-multi',
    group: 'idle',
    title: 'Idle connections over several gateway processes: 100 000 held, memory per connection',
    quick: true,
    run: runMulti,
  },
];
