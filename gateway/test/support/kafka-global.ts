import type { TestProject } from 'vitest/node';
import { kafkaScript } from './kafka.js';

/**
 * Starts one real single-node Kafka broker (scripts/kafka.sh, fresh data dir) for the whole
 * test run and stops it afterwards. Tests read its address with `inject('kafkaBrokers')`.
 * Port: TICKWIRE_TEST_KAFKA_PORT, default 19092 (not 9092, so a developer's own broker is safe).
 */
const port = Number(process.env.TICKWIRE_TEST_KAFKA_PORT ?? 19092);

export async function setup(project: TestProject): Promise<void> {
  await kafkaScript('clean', port);
  await kafkaScript('start', port);
  project.provide('kafkaBrokers', `127.0.0.1:${port}`);
}

export async function teardown(): Promise<void> {
  await kafkaScript('stop', port);
}

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
  }
}
