import { WebSocket } from 'ws';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { TickwireClient } from '../../client/ts/src/index.js';
import type { Status, SubscriptionEvent } from '../../client/ts/src/types.js';
import { startTickFeed, tickNumber, waitReady, type TickFeed } from './support/cluster.js';
import { httpGet, metricValue, sleep } from './support/gateway.js';
import { findHaproxy, startHaproxy, type Haproxy } from './support/haproxy.js';
import { createTopic, uniqueTopic } from './support/kafka.js';
import { spawnGateway, stopAll, type GatewayProcess } from './support/process.js';

/**
 * Behind a real load balancer: three gateway processes on one Kafka behind HAProxy (one of them
 * with two worker threads), clients of
 * the TS SDK through HAProxy on several topics. One instance is killed with SIGKILL mid-stream;
 * its clients must reconnect through HAProxy, resume on the others, and nothing may be lost
 * silently: per client and topic every tick follows the previous one (seq + 1 and the producer's
 * next tick number), unless the SDK reported the transition (`resync`, or `moved` for a
 * continuation on another instance, after which tick numbers must still continue exactly).
 */
const brokers = inject('kafkaBrokers');
const TOPICS = ['AAA', 'BBB', 'CCC'].flatMap((s) => [`trade.${s}`, `quote.${s}`]);
const CLIENTS = 24;
const TOPICS_PER_CLIENT = 3;
const TICKS_BEFORE = 30;
const TICKS_AFTER = 100;

let haproxy: Haproxy | undefined;
let feed: TickFeed | undefined;
const clients: TickwireClient[] = [];
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  haproxy?.stop();
  stopAll();
  await feed?.stop();
});

interface Tracked {
  client: TickwireClient;
  topics: string[];
  events: Map<string, SubscriptionEvent[]>;
  statuses: Status[];
}

interface Tally {
  ticks: number;
  resyncs: number;
  moves: number;
  gaps: number;
}

/** Checks one topic's SDK events; throws on the first silent discontinuity. */
function checkEvents(topic: string, events: readonly SubscriptionEvent[], tally: Tally): void {
  const first = events[0];
  if (first?.type !== 'snap') throw new Error(`${topic}: first event is ${first?.type}, not snap`);
  let seq = first.seq;
  let num = tickNumber(first.tick as unknown as Record<string, unknown>);
  for (const ev of events.slice(1)) {
    switch (ev.type) {
      case 'snap':
        throw new Error(`${topic}: a second snap`);
      case 'tick': {
        const n = tickNumber(ev.tick as unknown as Record<string, unknown>);
        if (ev.seq !== seq + 1 || n !== num + 1)
          throw new Error(`${topic}: silent gap: after seq ${seq} (tick #${num}) came seq ${ev.seq} (tick #${n})`);
        seq = ev.seq;
        num = n;
        tally.ticks++;
        break;
      }
      case 'resync':
        tally.resyncs++;
        seq = ev.seq;
        num = tickNumber(ev.tick as unknown as Record<string, unknown>);
        break;
      case 'moved':
        // Renumbered, not restarted: the next tick must still be the producer's next one.
        tally.moves++;
        seq = ev.seq;
        break;
      case 'gap':
        tally.gaps++;
        break;
    }
  }
}

const connectionsOf = async (g: GatewayProcess) => metricValue((await httpGet(g.port, '/metrics')).body, 'tickwire_connections');
const ticksOf = (t: Tracked, topic: string) => (t.events.get(topic) as SubscriptionEvent[]).filter((e) => e.type === 'tick').length;

async function waitAll(cond: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await sleep(50);
  }
}

/** Where each lagging client stands, for a timeout message that says what went wrong. */
function lagging(tracked: readonly Tracked[], want: (i: number, k: number) => number): string {
  const out: string[] = [];
  tracked.forEach((t, i) =>
    t.topics.forEach((x, k) => {
      if (ticksOf(t, x) >= want(i, k)) return;
      const evs = t.events.get(x)!;
      const tail = evs
        .slice(-3)
        .map((e) => (e.type === 'tick' ? `tick${e.seq}` : e.type === 'gap' ? `gap${e.expected}/${e.got}` : `${e.type}@${e.seq}`));
      out.push(
        `client ${i} ${x}: ${ticksOf(t, x)}/${want(i, k)} ticks, statuses ${JSON.stringify(t.statuses.slice(-4))}, ` +
          `state ${JSON.stringify(t.client.topicState(x))}, last events ${tail.join(' ')}`,
      );
    }),
  );
  return out.slice(0, 12).join('\n');
}

describe('behind HAProxy: three instances, one killed mid-stream', () => {
  it('the killed instance’s clients reconnect through HAProxy and resume on the others with nothing silently lost', async () => {
    findHaproxy(); // fails (not skips) with install instructions when haproxy is missing
    const kafkaTopic = uniqueTopic('ticks-lb');
    await createTopic(brokers, kafkaTopic, 3);
    feed = await startTickFeed(brokers, kafkaTopic, TOPICS, 10);
    const env = {
      TICKWIRE_SOURCE: 'kafka',
      TICKWIRE_KAFKA_BROKERS: brokers,
      TICKWIRE_KAFKA_TOPICS: kafkaTopic,
      TICKWIRE_FLUSH_INTERVAL_MS: '2',
    };
    // One instance runs two worker threads: positions must survive the primary → worker hand-off.
    const gateways = await Promise.all([1, 2, 3].map((i) => spawnGateway([], { ...env, TICKWIRE_WORKERS: i === 2 ? '2' : '1' })));
    // A consumer group join on a busy machine can take a while; if it never comes, say what the source logged.
    const kafkaLog = (g: GatewayProcess) =>
      g
        .stdout()
        .split('\n')
        .filter((l) => l.includes('kafka'))
        .slice(-15)
        .join('\n');
    await Promise.all(
      gateways.map((g) => waitReady(g.port, 60_000).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${kafkaLog(g)}`)))),
    );
    haproxy = await startHaproxy(gateways.map((g) => g.port));

    const tracked: Tracked[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const topics = Array.from({ length: TOPICS_PER_CLIENT }, (_, k) => TOPICS[(i + k) % TOPICS.length] as string);
      const client = new TickwireClient({
        url: `ws://127.0.0.1:${haproxy.port}/v1`,
        WebSocket,
        reconnect: { initialDelayMs: 100, maxDelayMs: 1000 },
      });
      clients.push(client);
      const t: Tracked = { client, topics, events: new Map(topics.map((x) => [x, []])), statuses: [] };
      client.onStatus((s) => t.statuses.push(s));
      for (const topic of topics) client.subscribe(topic, (ev) => t.events.get(topic)!.push(ev));
      tracked.push(t);
    }
    await Promise.all(clients.map((c) => c.connect()));
    await waitAll(
      () => tracked.every((t) => t.topics.every((x) => ticksOf(t, x) >= TICKS_BEFORE)),
      30_000,
      () => `ticks on every client before the kill:\n${lagging(tracked, () => TICKS_BEFORE)}`,
    );

    // Kill the two-worker instance (leastconn spreads clients evenly, so it holds a third): its
    // clients carry positions that came through the worker hand-off. Its /metrics sums both
    // workers, so the total below also checks the aggregation.
    const conns = await Promise.all(gateways.map(connectionsOf));
    expect(conns.reduce((a, b) => a + b, 0)).toBe(CLIENTS);
    const victim = 1;
    expect(conns[victim]).toBeGreaterThan(0);
    const statusesAtKill = tracked.map((t) => t.statuses.length);
    const ticksAtKill = tracked.map((t) => t.topics.map((x) => ticksOf(t, x)));
    gateways[victim]!.child.kill('SIGKILL');
    await gateways[victim]!.exited;

    await waitAll(
      () => tracked.every((t, i) => t.topics.every((x, k) => ticksOf(t, x) >= (ticksAtKill[i]![k] as number) + TICKS_AFTER)),
      45_000,
      () =>
        `${TICKS_AFTER} more ticks on every client and topic after the ` +
        `kill:\n${lagging(tracked, (i, k) => (ticksAtKill[i]![k] as number) + TICKS_AFTER)}`,
    );
    const reconnected = tracked.filter((t, i) => t.statuses.slice(statusesAtKill[i]).some((s) => s.state === 'reconnecting')).length;
    const survivors = gateways.filter((_, i) => i !== victim);
    const connsAfter = await Promise.all(survivors.map(connectionsOf));

    const tally: Tally = { ticks: 0, resyncs: 0, moves: 0, gaps: 0 };
    for (const t of tracked) for (const x of t.topics) checkEvents(x, t.events.get(x)!, tally);
    console.log(
      `lb test: ${CLIENTS} clients x ${TOPICS_PER_CLIENT} topics through HAProxy; killed gw${victim + 1} ` +
        `holding ${conns[victim]} of ${CLIENTS} (spread ${conns.join('/')}); ` +
        `${reconnected} reconnected; ticks checked ${tally.ticks}, silent gaps 0, moved ${tally.moves}, ` +
        `resyncs ${tally.resyncs}, SDK-detected gaps ${tally.gaps}`,
    );
    expect(conns[victim]).toBeGreaterThan(0);
    expect(reconnected).toBeGreaterThanOrEqual(conns[victim] as number);
    expect(connsAfter.reduce((a, b) => a + b, 0)).toBe(CLIENTS); // all back, on the survivors
    expect(tally.gaps).toBe(0);
    // Every resumed topic either continued (moved) or said it could not (resync).
    expect(tally.moves + tally.resyncs).toBeGreaterThanOrEqual((conns[victim] as number) * TOPICS_PER_CLIENT);
    expect(tally.moves).toBeGreaterThan(0);
  }, 120_000);
});
