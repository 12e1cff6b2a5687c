/**
 * Entry point: `npm run ingest`. Reads the configuration from the environment once, starts, and on SIGTERM/SIGINT
 * stops accepting, flushes the buffer to Kafka and exits 0 (signals, deadlines and exit codes: common/service.ts).
 */
import { createLogger } from '../common/logger.ts';
import { runMain } from '../common/service.ts';
import { loadConfig } from './config.ts';
import { ConfigError } from './errors.ts';
import { createIngest } from './ingest.ts';

const logger = createLogger('ingest');

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) logger.fatal(err.message);
  else logger.fatal({ err }, 'ingest failed to start');
  process.exit(1);
}
// stop() gives up on the buffer after drainTimeoutMs by itself; the margin covers closing connections and Kafka.
await runMain(createIngest(config, { logger }), logger, { forceExitMs: config.drainTimeoutMs + 5_000 });
