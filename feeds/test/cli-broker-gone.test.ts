/**
 * Issue 17 point 4: the broker goes away mid-stream. kafkajs then retries the outstanding sends for
 * a long time, and the feed used to wait for them after Ctrl-C, printing in-flight counts. Here
 * kafkajs is replaced by a broker that acknowledges the first sends and then never answers again:
 * one abort must end main() within the flush timeout, with the unacknowledged ticks counted and exit 1.
 */
import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';

const broker = vi.hoisted(() => ({ sends: 0, acked: 0, answerFirst: 3, gone: false }));

vi.mock('kafkajs', async (importOriginal) => {
  const real = await importOriginal<typeof import('kafkajs')>();
  class FakeKafka {
    admin() {
      return {
        connect: async () => {},
        disconnect: async () => {},
        listTopics: async () => ['ticks'],
        fetchTopicMetadata: async () => ({ topics: [{ name: 'ticks', partitions: [{ partitionId: 0 }, { partitionId: 1 }] }] }),
      };
    }
    producer() {
      return {
        connect: async () => {},
        // A gone broker: kafkajs's disconnect waits on its retrying requests too.
        disconnect: () => new Promise<void>(() => {}),
        send: (_req: { topicMessages?: { messages: unknown[] }[]; messages?: unknown[] }) => {
          broker.sends++;
          if (broker.sends > broker.answerFirst) {
            broker.gone = true;
            return new Promise<never>(() => {});
          }
          return Promise.resolve([]);
        },
      };
    }
  }
  return { ...real, Kafka: FakeKafka };
});

const { main } = await import('../src/cli.js');

function sinkStream(): Writable & { text: string } {
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      w.text += chunk.toString();
      cb();
    },
  }) as Writable & { text: string };
  w.text = '';
  return w;
}

describe('tickwire-feed when the broker goes away (issue 17 pt 4)', () => {
  it('one abort ends it within --flush-timeout and reports the unacknowledged ticks, exit 1', async () => {
    const stdout = sinkStream();
    const stderr = sinkStream();
    const ac = new AbortController();
    const args = ['sim', '--rate', '2000', '--batch', '50', '--linger', '1', '--flush-timeout', '0.5', '--brokers', '127.0.0.1:1'];
    const done = main(args, {}, ac.signal, { stdout, stderr });
    await vi.waitFor(() => expect(broker.gone).toBe(true), { timeout: 20_000, interval: 20 });
    const t0 = performance.now();
    ac.abort();
    const code = await Promise.race([done, new Promise<string>((r) => setTimeout(() => r('still running'), 10_000))]);
    const took = performance.now() - t0;
    expect(code, `${stdout.text}\n${stderr.text}`).toBe(1);
    // flush timeout 0.5 s + disconnect timeout 2 s, with room for a busy machine.
    expect(took).toBeLessThan(6000);
    const m = /^\s+not acknowledged\s+(\d+)/m.exec(stdout.text);
    expect(m, stdout.text).not.toBeNull();
    const sent = Number(/^\s+sent\s+(\d+)/m.exec(stdout.text)![1]);
    const acked = Number(/^\s+acked\s+(\d+)/m.exec(stdout.text)![1]);
    expect(Number(m![1])).toBeGreaterThan(0);
    expect(Number(m![1])).toBeGreaterThanOrEqual(sent - acked);
    expect(stderr.text).toMatch(/Kafka did not acknowledge \d+ ticks within --flush-timeout 0\.5 s/);
  });
});
