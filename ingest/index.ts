/**
 * The public entry of the ingest service: what tests in other folders, benches and scripts import (never the
 * files behind it). `createIngest(config, deps)` builds the service from a config that `loadConfig` reads from
 * the environment once (or `configWithDefaults` fills in for tests); `ingest/main.ts` runs it as a process.
 */
export { configWithDefaults, type IngestConfig, loadConfig } from './config.ts';
export { ConfigError } from './errors.ts';
export { createIngest, type Ingest, type IngestDeps } from './ingest.ts';
