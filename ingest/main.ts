/**
 * Entry point: `npm run ingest`. Reads the configuration from the environment once, starts, and on SIGTERM/SIGINT
 * stops accepting, flushes the buffer to Kafka and exits 0.
 */
import { createLogger } from '../common/logger.ts';
import { loadConfig } from './config.ts';
import { ConfigError } from './errors.ts';
import { createIngest } from './ingest.ts';

const logger = createLogger('ingest');

async function main(): Promise<void> {
  const config = loadConfig();
  const ingest = createIngest(config, { logger });
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: draining the buffer to Kafka');
    ingest.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  await ingest.start();
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) logger.fatal(err.message);
  else logger.fatal({ err }, 'ingest failed to start');
  process.exit(1);
});
