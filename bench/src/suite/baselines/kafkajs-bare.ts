#!/usr/bin/env node
/**
 * The "bare kafkajs consumer" baseline of the Kafka goals (P5, P6), run as its own process like
 * the gateway it is compared with. Consumer settings are the gateway's (gateway/src/sources/kafka-client.ts):
 * a fresh consumer group, eachBatch, maxWaitTimeInMs 250, no offset commits.
 *
 *   node dist/bench/src/suite/baselines/kafkajs-bare.js count --brokers B --topic T --expect N
 *     Reads topic T from the beginning, decodes every value with msgpackr, counts; exits once N
 *     records were read. Prints JSON lines: {"event":"connected"}, {"event":"first"}, {"event":"done"}
 *     with `at` = Date.now().
 *
 *   node dist/bench/src/suite/baselines/kafkajs-bare.js relay --brokers B --topic T
 *     A `ws` WebSocketServer on 127.0.0.1 (ephemeral port) in this process, and a consumer from
 *     the latest offsets that does one `ws.send(value)` of the raw record value per record to
 *     every connected client. Prints {"event":"listening","port":P}, then {"event":"ready"} once
 *     the consumer joined and fetched; runs until SIGTERM/SIGINT, then prints {"event":"stats"}.
 */
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { Unpackr } from 'msgpackr';
import WebSocket, { WebSocketServer } from 'ws';

const { values: a, positionals } = parseArgs({
  options: { brokers: { type: 'string' }, topic: { type: 'string' }, expect: { type: 'string' } },
  allowPositionals: true,
});
const mode = positionals[0];
if ((mode !== 'count' && mode !== 'relay') || !a.brokers || !a.topic) {
  process.stderr.write('usage: kafkajs-bare.js count|relay --brokers B --topic T [--expect N]\n');
  process.exit(2);
}
const say = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ ...o, at: Date.now() })}\n`);

const kafka = new Kafka({
  clientId: 'bare-bench',
  brokers: a.brokers.split(','),
  logLevel: logLevel.ERROR,
  retry: { initialRetryTime: 250, maxRetryTime: 5000, retries: 8 },
});
const consumer = kafka.consumer({
  groupId: `bare-${process.pid}-${Date.now().toString(36)}`,
  maxWaitTimeInMs: 250,
  sessionTimeout: 10_000,
  heartbeatInterval: 1000,
});
// The gateway's decoder settings (protocol/src/record.ts).
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, moreTypes: false, int64AsType: 'number' });

let stopping = false;
async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    await consumer.disconnect().catch(() => undefined);
  }
  process.exit(code);
}
process.on('SIGTERM', () => void shutdown(0));
process.on('SIGINT', () => void shutdown(0));

async function count(expect: number): Promise<void> {
  let n = 0;
  let bad = 0;
  let tsSum = 0;
  let first = false;
  if (!(expect > 0)) throw new Error('count needs --expect N (N > 0)');
  consumer.on(consumer.events.GROUP_JOIN, () => say({ event: 'joined' }));
  await consumer.connect();
  await consumer.subscribe({ topics: [a.topic!], fromBeginning: true });
  say({ event: 'connected' });
  await consumer.run({
    eachBatchAutoResolve: true,
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      if (!first) {
        first = true;
        say({ event: 'first' });
      }
      for (const m of batch.messages) {
        try {
          const v = unpackr.unpack(m.value as Buffer) as { ts?: number };
          tsSum += typeof v.ts === 'number' ? 1 : 0;
        } catch {
          bad++;
        }
        n++;
      }
      if (n >= expect && !stopping) {
        say({ event: 'done', records: n, bad, withTs: tsSum });
        void shutdown(0);
      }
    },
  });
}

async function relay(): Promise<void> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const port = (wss.address() as { port: number }).port;
  say({ event: 'listening', port });
  let sent = 0;
  let records = 0;
  let ready = false;
  consumer.on(consumer.events.FETCH, () => {
    if (!ready) {
      ready = true;
      say({ event: 'ready' });
    }
  });
  const finish = () => {
    say({ event: 'stats', records, sent, clients: wss.clients.size });
    wss.close();
  };
  process.removeAllListeners('SIGTERM');
  process.removeAllListeners('SIGINT');
  process.on('SIGTERM', () => (finish(), void shutdown(0)));
  process.on('SIGINT', () => (finish(), void shutdown(0)));
  await consumer.connect();
  await consumer.subscribe({ topics: [a.topic!], fromBeginning: false });
  await consumer.run({
    eachBatchAutoResolve: true,
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        records++;
        // One ws.send of the raw value per record (and per connected client).
        for (const c of wss.clients) {
          if (c.readyState === WebSocket.OPEN) {
            c.send(m.value as Buffer, { binary: true });
            sent++;
          }
        }
      }
    },
  });
}

(mode === 'count' ? count(Number(a.expect ?? NaN)) : relay()).catch((e: unknown) => {
  process.stderr.write(`kafkajs-bare: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  void shutdown(1);
});
