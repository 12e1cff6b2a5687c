/**
 * Entry of the fan-out tiers: `tsx fanout/main.ts <role>` with role `main-publisher`, `cluster-publisher` or
 * `subscriber-node` (or `FANOUT_ROLE`). Reads the role's configuration from the environment once, starts, and
 * on SIGTERM/SIGINT stops gracefully and exits 0. Prints one JSON line `{"ready":…,"url":…}` on stdout once
 * listening, for the process that started it.
 */
import { createLogger } from '../common/logger.ts';
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

interface Service {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly url: string;
}

function create(role: Role): Service {
  switch (role) {
    case 'main-publisher':
      return createMainPublisher(mainPublisherConfigFromEnv());
    case 'cluster-publisher':
      return createClusterPublisher(clusterPublisherConfigFromEnv());
    case 'subscriber-node':
      return createSubscriberNode(subscriberNodeConfigFromEnv());
  }
}

async function main(): Promise<void> {
  const role = (process.argv[2] ?? process.env.FANOUT_ROLE ?? '') as Role;
  const logger = createLogger(`fanout-${role || 'unknown'}`);
  if (!ROLES.includes(role)) {
    logger.fatal(`usage: fanout/main.ts <${ROLES.join('|')}> (or FANOUT_ROLE)`);
    process.exit(2);
  }
  let service: Service;
  try {
    service = create(role);
  } catch (err) {
    if (err instanceof ConfigError) {
      logger.fatal(err.message);
      process.exit(2);
    }
    throw err;
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    const force = setTimeout(() => {
      logger.error('graceful stop took too long; exiting');
      process.exit(1);
    }, 15_000);
    force.unref();
    try {
      await service.stop();
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'stop failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  try {
    await service.start();
  } catch (err) {
    logger.fatal({ err }, 'start failed');
    await service.stop().catch(() => {});
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ ready: role, url: service.url })}\n`);
}

await main();
