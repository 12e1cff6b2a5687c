/**
 * Entry of the fan-out tiers: `tsx fanout/main.ts <role>` with role `main-publisher`, `cluster-publisher` or
 * `subscriber-node` (or `FANOUT_ROLE`). Reads the role's configuration from the environment once, starts, and
 * on SIGTERM/SIGINT stops gracefully and exits 0 (signals, deadlines and exit codes: common/service.ts). Prints
 * one JSON line `{"ready":…,"url":…}` on stdout once listening, for the process that started it.
 */
import { createLogger, type Logger } from '../common/logger.ts';
import { runMain, type Service } from '../common/service.ts';
import { createClusterPublisher } from './cluster-publisher/cluster-publisher.ts';
import {
  clusterPublisherConfigFromEnv,
  mainPublisherConfigFromEnv,
  subscriberNodeConfigFromEnv,
} from './config.ts';
import { ConfigError } from './errors.ts';
import { createMainPublisher } from './main-publisher/main-publisher.ts';
import { createSubscriberNode } from './subscriber-node/subscriber-node.ts';

/** The roles this entry starts. */
export const ROLES = ['main-publisher', 'cluster-publisher', 'subscriber-node'] as const;
export type Role = (typeof ROLES)[number];

/** The role's service, given the process's one logger (its `service` name says the role). */
function create(role: Role, logger: Logger): Service & { readonly url: string } {
  switch (role) {
    case 'main-publisher':
      return createMainPublisher(mainPublisherConfigFromEnv(), { logger });
    case 'cluster-publisher':
      return createClusterPublisher(clusterPublisherConfigFromEnv(), { logger });
    case 'subscriber-node':
      return createSubscriberNode(subscriberNodeConfigFromEnv(), { logger });
  }
}

const role = (process.argv[2] ?? process.env.FANOUT_ROLE ?? '') as Role;
const logger = createLogger(`fanout-${role || 'unknown'}`);
if (!ROLES.includes(role)) {
  logger.fatal(`usage: fanout/main.ts <${ROLES.join('|')}> (or FANOUT_ROLE)`);
  process.exit(2);
}
let service: ReturnType<typeof create>;
try {
  service = create(role, logger);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  logger.fatal(err.message);
  process.exit(2);
}
await runMain(service, logger, { forceExitMs: 15_000 });
process.stdout.write(`${JSON.stringify({ ready: role, url: service.url })}\n`);
