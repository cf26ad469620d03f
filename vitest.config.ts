import { defineConfig } from 'vitest/config';

/**
 * Test files land in a project by their name, so a new file needs no config change:
 *   *.kafka.test.ts        kafka        needs the real broker (started once by the globalSetup)
 *   *.integration.test.ts  integration  real gateway/uWS on loopback, child processes; no Kafka
 *   gateway/test/browser/  browser      Chromium (playwright-core)
 *   any other *.test.ts    unit         in-process, no Kafka/browser/Python/Java; seconds
 * Python is pytest (npm run test:py). gateway/test/projects.test.ts checks that every test file
 * belongs to exactly one project.
 */
export const TEST_ROOTS = ['gateway/test', 'feeds/test', 'client/ts/test', 'bench/test', 'protocol/test'];
const all = (suffix: string) => TEST_ROOTS.map((r) => `${r}/**/*${suffix}`);
const BROWSER = ['gateway/test/browser/**/*.test.ts'];
const KAFKA = all('.kafka.test.ts');
const INTEGRATION = all('.integration.test.ts');

export const PROJECTS = {
  unit: { include: all('.test.ts'), exclude: [...KAFKA, ...INTEGRATION, ...BROWSER] },
  integration: { include: INTEGRATION, exclude: BROWSER },
  kafka: { include: KAFKA, exclude: BROWSER },
  browser: { include: BROWSER, exclude: [] as string[] },
};

export default defineConfig({
  test: {
    // Bounds, not expectations: generous so a test on a busy machine is slow rather than red.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests bind real loopback ports and spawn processes; files run in parallel
    // forks but each file's tests run in order.
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'unit', ...PROJECTS.unit } },
      { extends: true, test: { name: 'integration', ...PROJECTS.integration } },
      // One real Kafka broker for the run (scripts/kafka.sh); stopped at the end. Only this
      // project starts it, so the others run on a machine without Java.
      { extends: true, test: { name: 'kafka', ...PROJECTS.kafka, globalSetup: ['gateway/test/support/kafka-global.ts'] } },
      { extends: true, test: { name: 'browser', ...PROJECTS.browser } },
    ],
  },
});
