#!/usr/bin/env tsx
/**
 * `npm start` — provision, run Kafka and the schema registry, then the EmoStream services as child processes,
 * each started after the previous is ready; Ctrl-C stops them in reverse order.
 * Ports as in `npm run stack`, plus --ingest-port/INGEST_PORT (8080).
 *
 * To add a service, append a factory to SERVICES: it gets the stack's addresses and returns a spec (command,
 * env, readiness probe) or `{ skip }` with the reason it cannot run yet.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { argv } from 'zx';
import {
  portsFrom,
  reportFailure,
  runDirFrom,
  runForeground,
  type ServiceFactory,
} from './lib/runtime/foreground.ts';
import { assertPortFree } from './lib/runtime/ports.ts';
import { repoRoot } from './lib/runtime/versions.ts';

let ports: ReturnType<typeof portsFrom>;
try {
  ports = portsFrom(argv);
  // Checked before anything starts, so a taken port fails fast instead of after Kafka and the registry are up.
  await assertPortFree('Ingest API', '127.0.0.1', ports.ingest);
} catch (error) {
  process.exit(reportFailure(error));
}

/** Runs a TypeScript entry point with this repo's tsx loader. */
function tsxEntry(entry: string): { command: string; args: string[] } {
  return { command: process.execPath, args: ['--import', 'tsx', path.join(repoRoot, entry)] };
}

/** GET `url` answers 2xx. */
async function httpOk(url: string, signal: AbortSignal): Promise<boolean> {
  const res = await fetch(url, { signal });
  await res.body?.cancel();
  return res.ok;
}

const SERVICES: ServiceFactory[] = [
  (ctx) => {
    const entry = 'ingest/main.ts';
    if (!existsSync(path.join(repoRoot, entry))) return { skip: `ingest: ${entry} does not exist yet` };
    const base = `http://${ctx.host}:${ports.ingest}`;
    return {
      name: 'ingest',
      ...tsxEntry(entry),
      cwd: repoRoot,
      env: {
        ...process.env,
        KAFKA_BROKERS: ctx.kafkaBrokers,
        SCHEMA_REGISTRY_URL: ctx.registryUrl,
        HOST: ctx.host,
        INGEST_PORT: String(ports.ingest),
      },
      readyTimeoutMs: 60_000,
      stopTimeoutMs: 15_000,
      addresses: { url: base },
      ready: (signal) => httpOk(`${base}/ready`, signal),
    };
  },
];

try {
  process.exitCode = await runForeground({
    kafkaPort: ports.kafka,
    kafkaControllerPort: ports.kafkaController,
    registryPort: ports.registry,
    runDir: runDirFrom(argv),
    services: SERVICES,
  });
} catch (error) {
  process.exitCode = reportFailure(error);
}
