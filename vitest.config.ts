import { defineConfig } from 'vitest/config';

/**
 * Two projects:
 * - unit: `*.test.ts` beside the code, no external services;
 * - integration: `*.int.test.ts` beside the code and everything under e2e/, run against a real Kafka, schema
 *   registry (and Spark where a test asks for it) that `scripts/lib/test-stack.ts` starts once for the run.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{common,ingest,fanout,scripts,jobs}/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', '**/node_modules/**'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['{common,ingest,fanout,scripts,jobs}/**/*.int.test.ts', 'e2e/**/*.test.ts'],
          globalSetup: ['scripts/lib/test-stack.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
