// Readiness probe used by scripts/kafka.sh: exits 0 once the broker at
// 127.0.0.1:<port> answers Metadata (admin.listTopics) and DescribeCluster
// via kafkajs and the group coordinator is available, 1 otherwise. Usage: node ready.mjs <port> [timeoutMs]
import { Kafka, logLevel } from 'kafkajs';

const port = Number(process.argv[2] ?? 9092);
const timeoutMs = Number(process.argv[3] ?? 10000);
const timer = setTimeout(() => {
  console.error(`ready: timeout after ${timeoutMs} ms`);
  process.exit(1);
}, timeoutMs);
const kafka = new Kafka({
  clientId: 'tickwire-kafka-ready',
  brokers: [`127.0.0.1:${port}`],
  logLevel: logLevel.NOTHING,
  connectionTimeout: 2000,
  requestTimeout: 5000,
  retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 500 },
});
const admin = kafka.admin();
try {
  await admin.connect();
  await admin.listTopics();
  const c = await admin.describeCluster();
  // Warm-up: the first FindCoordinator makes the broker create __consumer_offsets
  // (answering COORDINATOR_NOT_AVAILABLE until it exists). Doing it here means the
  // first consumer group in a test joins without a logged, retried error.
  await admin.describeGroups(['tickwire-kafka-ready']);
  await admin.disconnect();
  clearTimeout(timer);
  console.log(`ready: controller=${c.controller} brokers=${c.brokers.map((b) => `${b.host}:${b.port}`).join(',')}`);
  process.exit(0);
} catch (err) {
  console.error(`ready: ${err?.message ?? err}`);
  process.exit(1);
}
