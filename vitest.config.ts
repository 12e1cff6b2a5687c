import { defineConfig } from 'vitest/config';

/**
 * The container suite (e2e/containers, `npm run test:containers`) needs a Docker daemon and locally built images,
 * so it is a project only when EMOSTREAM_CONTAINER_SUITE=1 (set by that script): `npm test` never runs it.
 */
const containers = process.env.EMOSTREAM_CONTAINER_SUITE === '1';

/**
 * Two projects (three with the container suite):
 * - unit: `*.test.ts` beside the code, no external services;
 * - integration: `*.int.test.ts` beside the code and everything under e2e/, run against a real Kafka, schema
 *   registry (and Spark where a test asks for it) that `infra/local/test-stack.ts` starts once for the run.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{common,ingest,fanout,infra,scripts,jobs,web}/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', '**/node_modules/**'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['{common,ingest,fanout,infra,scripts,jobs,web}/**/*.int.test.ts', 'e2e/**/*.test.ts'],
          exclude: ['e2e/containers/**', '**/node_modules/**'],
          globalSetup: ['infra/local/test-stack.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      ...(containers
        ? [
            {
              test: {
                name: 'containers',
                include: ['e2e/containers/**/*.test.ts'],
                globalSetup: ['e2e/containers/global-setup.ts'],
                // The suite removes its own containers (also on failure); no reaper container is pulled. Containers
                // share the host's network, so the host is loopback (a daemon run with --bridge=none has no bridge
                // network for testcontainers to look a gateway up in).
                env: { TESTCONTAINERS_RYUK_DISABLED: 'true', TESTCONTAINERS_HOST_OVERRIDE: '127.0.0.1' },
                testTimeout: 300_000,
                hookTimeout: 600_000,
                fileParallelism: false,
              },
            },
          ]
        : []),
    ],
  },
});
