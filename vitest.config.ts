import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['protocol/test/**/*.test.ts', 'gateway/test/**/*.test.ts', 'feeds/test/**/*.test.ts', 'client/ts/test/**/*.test.ts', 'bench/test/**/*.test.ts'],
    // Bounds, not expectations: generous so a test on a busy machine is slow rather than red.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests bind real loopback ports and spawn processes; files run in parallel
    // forks but each file's tests run in order.
    pool: 'forks',
    // One real Kafka broker for the run (scripts/kafka.sh); stopped at the end.
    globalSetup: ['gateway/test/support/kafka-global.ts'],
  },
});
