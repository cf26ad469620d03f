import type { TestProject } from 'vitest/node';
import { kafkaScript, startTestBroker } from './kafka.js';

/**
 * Starts one real single-node Kafka broker (scripts/kafka.sh, fresh data dir) for the whole
 * test run and removes it afterwards. Tests read its address with `inject('kafkaBrokers')`.
 * Port: TICKWIRE_TEST_KAFKA_PORT if set, else a free one, so concurrent runs never share a broker.
 */
let port = 0;

export async function setup(project: TestProject): Promise<void> {
  if (process.env.TICKWIRE_TEST_KAFKA_PORT) {
    port = Number(process.env.TICKWIRE_TEST_KAFKA_PORT);
    await kafkaScript('clean', port);
    await kafkaScript('start', port);
  } else {
    port = await startTestBroker();
  }
  project.provide('kafkaBrokers', `127.0.0.1:${port}`);
}

export async function teardown(): Promise<void> {
  if (port) await kafkaScript('clean', port);
}

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
  }
}
