#!/usr/bin/env tsx
/**
 * `npm run fuzz:openapi` — fuzz every HTTP surface against its OpenAPI spec with schemathesis: ingest
 * (`ingest/openapi.yaml`) and the main publisher's directory (`fanout/main-publisher/openapi.yaml`), each running
 * in this process on a free loopback port over a real Kafka and schema registry (started here, in a temp dir).
 * Installs schemathesis (version pinned in versions.json) into `<cache>/schemathesis-venv` on first use.
 *
 * Options: `--max-examples N` (per operation, default 40), `--seed N` (reproduce a run), `--only ingest|directory`.
 * Exits non-zero if any check failed. Not part of `npm test`: it takes minutes and is meant for spec changes.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { $, argv, chalk } from 'zx';
import { createMainPublisher, mainPublisherConfigFromEnv } from '../fanout/index.ts';
import { cacheDir } from '../infra/local/cache-dir.ts';
import { reportFailure } from '../infra/local/foreground.ts';
import { startStack } from '../infra/local/local-stack.ts';
import { createProgress } from '../infra/local/progress.ts';
import { loadVersions, repoRoot } from '../infra/local/versions.ts';
import { configWithDefaults, createIngest } from '../ingest/index.ts';

/**
 * Checks that do not apply: there is no authentication to bypass, and `positive_data_acceptance` expects every
 * schema-valid body to be accepted, which ingest cannot promise — a timestamp must lie within the server's skew
 * window (30 s ahead, 5 min behind), a rule of "now" that JSON Schema cannot state (see Timestamp in the spec).
 */
const EXCLUDED_CHECKS = ['ignored_auth', 'object_level_authorization', 'positive_data_acceptance'];

const surfaces = ['ingest', 'directory'] as const;
type Surface = (typeof surfaces)[number];

const maxExamples = Number(argv['max-examples'] ?? 40);
const seed = argv.seed === undefined ? undefined : Number(argv.seed);
const only = argv.only === undefined ? surfaces : [String(argv.only) as Surface];
if (!Number.isInteger(maxExamples) || maxExamples < 1 || only.some((s) => !surfaces.includes(s))) {
  console.error('usage: npm run fuzz:openapi -- [--max-examples N] [--seed N] [--only ingest|directory]');
  process.exit(2);
}

const progress = createProgress();
const versions = loadVersions();
const venv = path.join(cacheDir(), 'schemathesis-venv');
const schemathesis = path.join(venv, 'bin', 'schemathesis');

/** The pinned schemathesis in its own venv; reinstalled when the pin changed. */
async function ensureSchemathesis(python: string): Promise<void> {
  const { pypi, version } = versions.schemathesis;
  const installed = existsSync(schemathesis)
    ? (await $`${schemathesis} --version`.quiet().nothrow()).stdout.trim()
    : '';
  if (installed.endsWith(`version ${version}`)) {
    progress.skip(`schemathesis ${version}`, `already in ${venv}`);
    return;
  }
  await progress.step(`install schemathesis ${version} into ${venv}`, async (update) => {
    if (!existsSync(path.join(venv, 'bin', 'python'))) await $`${python} -m venv ${venv}`.quiet();
    const pip = $`${path.join(venv, 'bin', 'pip')} install --disable-pip-version-check ${`${pypi}==${version}`}`;
    for await (const line of pip.stdout) {
      const text = String(line).trim();
      if (text) update(text.slice(0, 120));
    }
    await pip;
  });
}

try {
  const logDir = mkdtempSync(path.join(tmpdir(), 'emostream-fuzz-'));
  const stack = await startStack({ progress, provision: { progress, skipSpark: true } });
  const stopping: (() => Promise<void>)[] = [() => stack.stop()];
  const failed: Surface[] = [];
  try {
    await ensureSchemathesis(stack.runtime.toolchain.python);
    // The services log to a file: their refusals of fuzzed input would drown schemathesis's report.
    const logFile = path.join(logDir, 'services.log');
    const logger = pino({ base: { service: 'fuzz' } }, pino.destination({ dest: logFile, sync: true }));
    progress.info(`service logs: ${logFile}`);
    const targets: Record<Surface, () => Promise<string>> = {
      ingest: async () => {
        const ingest = createIngest(
          configWithDefaults({
            kafkaBrokers: [stack.kafkaBrokers],
            schemaRegistryUrl: stack.registryUrl,
            port: 0,
            // The fuzzer sends as one user; 429s would hide what the checks are after.
            rateLimitPerSec: 0,
          }),
          { logger },
        );
        stopping.unshift(() => ingest.stop());
        const { host, port } = await ingest.start();
        return `http://${host}:${port}`;
      },
      directory: async () => {
        const main = createMainPublisher(
          mainPublisherConfigFromEnv({
            KAFKA_BROKERS: stack.kafkaBrokers,
            SCHEMA_REGISTRY_URL: stack.registryUrl,
            FANOUT_MAIN_PORT: '0',
            FANOUT_REPLAY_MS: '0',
            // The node registered below stays live for the whole run without heartbeats.
            FANOUT_NODE_TTL_MS: String(3_600_000),
          }),
          { logger },
        );
        stopping.unshift(() => main.stop());
        await main.start();
        // With no live node every assignment is a (documented) 503, which schemathesis counts as a server error,
        // and the 200 answer would go unchecked. The node heartbeats like a real one: schemathesis reuses ids it
        // saw in responses, so it DELETEs this node, which comes back before the next operation is fuzzed.
        const node = { cluster_id: 'fuzz', url: 'http://127.0.0.1:9', viewers: 0, matches: ['m1'] };
        const heartbeat = () =>
          fetch(`${main.url}/v1/nodes/fuzz-node`, {
            method: 'PUT',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(node),
          });
        const first = await heartbeat();
        if (first.status !== 204) throw new Error(`cannot register the fuzz node: ${first.status}`);
        const timer = setInterval(() => void heartbeat().catch(() => {}), 100);
        stopping.unshift(async () => clearInterval(timer));
        return main.url;
      },
    };
    const specs: Record<Surface, string> = {
      ingest: path.join(repoRoot, 'ingest/openapi.yaml'),
      directory: path.join(repoRoot, 'fanout/main-publisher/openapi.yaml'),
    };
    for (const surface of only) {
      const url = await progress.step(`start ${surface}`, () => targets[surface]());
      progress.info(chalk.bold(`\nschemathesis: ${specs[surface]} against ${url}`));
      const args = [
        'run',
        specs[surface],
        '--url',
        url,
        '--checks',
        'all',
        '--exclude-checks',
        EXCLUDED_CHECKS.join(','),
        '--max-examples',
        String(maxExamples),
        '--workers',
        '1',
        '--report-dir',
        path.join(logDir, surface),
        '--report',
        'junit',
        ...(seed === undefined ? [] : ['--seed', String(seed)]),
      ];
      // In the log dir: schemathesis keeps a cache of its findings (`.schemathesis/`) in its working directory.
      const run = await $({
        cwd: logDir,
        stdio: ['ignore', 'inherit', 'inherit'],
        nothrow: true,
      })`${schemathesis} ${args}`;
      if (run.exitCode !== 0) failed.push(surface);
    }
  } finally {
    for (const stop of stopping) await stop().catch(() => {});
  }
  if (failed.length > 0) {
    console.error(chalk.red(`schemathesis found failures in: ${failed.join(', ')} (reports in ${logDir})`));
    process.exitCode = 1;
  } else {
    console.log(chalk.green(`every spec passed (reports in ${logDir})`));
  }
} catch (error) {
  process.exitCode = reportFailure(error);
}
