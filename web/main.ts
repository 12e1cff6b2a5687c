/**
 * Entry point of the web server (viewer page and operator dashboard): `tsx web/main.ts`. Reads its configuration
 * from the environment once (web/config.ts), starts, and on SIGTERM/SIGINT stops (common/service.ts).
 */
import { createLogger } from '../common/logger.ts';
import { runMain } from '../common/service.ts';
import { ConfigError, type WebConfig, webConfigFromEnv } from './config.ts';
import { createWebServer } from './web-server.ts';

const logger = createLogger('web');
let config: WebConfig;
try {
  config = webConfigFromEnv();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  logger.fatal(err.message);
  process.exit(2);
}
await runMain(createWebServer(config, { logger }), logger, { forceExitMs: 5_000 });
