import { Kafka, logLevel as KafkaLogLevel, type ConsumerConfig } from 'kafkajs';
import type { Logger } from 'pino';
import { kafkaLogCreator } from './kafka-log.js';

export interface ClientOptions {
  brokers: string[];
  clientId: string;
  groupPrefix: string;
  /** Distinguishes this instance's consumer group from every other instance's. */
  instanceId: string;
  retryMaxMs: number;
  metadataRefreshMs: number;
}

export function kafkaClient(opts: ClientOptions, log: Logger): Kafka {
  return new Kafka({
    clientId: opts.clientId,
    brokers: opts.brokers,
    logLevel: KafkaLogLevel.WARN,
    logCreator: kafkaLogCreator(log),
    retry: { initialRetryTime: 250, maxRetryTime: opts.retryMaxMs, retries: 8 },
  });
}

/**
 * Settings of the `generation`th consumer of this instance. Each consumer gets a group of its
 * own: a replaced consumer that kafkajs brings back to life must never share (and so split)
 * partitions with the current one. It never commits, so the group holds no state worth keeping.
 */
export function consumerConfig(opts: ClientOptions, generation: number, stopped: () => boolean): ConsumerConfig {
  return {
    groupId: `${opts.groupPrefix}-${opts.instanceId}-${generation}`,
    // New partitions are found by kafkajs's own metadata refresh (then it rejoins): as often as the survey.
    metadataMaxAge: opts.metadataRefreshMs,
    // A consumer must never create a missing topic (with the broker's defaults) behind the producer's back.
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 250,
    sessionTimeout: 10_000,
    heartbeatInterval: 1000,
    retry: { initialRetryTime: 250, maxRetryTime: opts.retryMaxMs, retries: 8, restartOnFailure: async () => !stopped() },
  };
}
