/**
 * Configuration of the three fan-out roles, parsed once from the environment (`common/env.ts`). Every bad
 * variable is named in one {@link ConfigError}; each config type is derived from its spec, whose field docs are
 * the config's docs.
 */
import { z } from 'zod';
import { AUTH_ENV, type AuthConfig, authConfigProblem } from '../common/auth.ts';
import { trustedProxiesVar } from '../common/client-address.ts';
import { clientSecurityFromEnv } from '../common/client-security.ts';
import { corsOriginsVar } from '../common/cors.ts';
import { ConfigError, type EnvConfig, fromEnv, listVar, parseEnv, urlVar } from '../common/env.ts';
import { clusterIdSchema, nodeIdSchema } from '../common/ids.ts';
import { TOPICS } from '../common/topics.ts';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const brokers = listVar.refine((l) => l.length > 0, 'at least one host:port is required');
/** `FANOUT_LINK_SECRET`: the secret of the node ⇄ cluster publisher link (both sides read it). */
const linkSecret = fromEnv(
  'FANOUT_LINK_SECRET',
  z.string().min(16, 'must be at least 16 characters').optional(),
);

/** Where the Kafka-facing tiers find Kafka and the registry. */
const KAFKA_ENV = {
  /** Kafka bootstrap brokers (`KAFKA_BROKERS`, comma list). */
  kafkaBrokers: fromEnv('KAFKA_BROKERS', brokers),
  /** Confluent-compatible schema registry base URL (`SCHEMA_REGISTRY_URL`). */
  registryUrl: fromEnv('SCHEMA_REGISTRY_URL', urlVar),
  /** Interface the HTTP / Socket.IO server binds. @default '127.0.0.1' */
  host: fromEnv('HOST', z.string().min(1).default('127.0.0.1')),
  /** Prefix of the per-cluster topics between the main and the cluster publishers: `<prefix>.<cluster id>`. @default 'emoji.fanout.v1' */
  topicPrefix: fromEnv('FANOUT_TOPIC_PREFIX', z.string().min(1).default(TOPICS.fanout)),
  /** Partitions of each per-cluster topic, when this tier creates it. @default 3 */
  topicPartitions: fromEnv('FANOUT_TOPIC_PARTITIONS', positiveInt.default(3)),
};

const MAIN_PUBLISHER_ENV = {
  ...KAFKA_ENV,
  /** 0 picks a free port. @default 8090 */
  port: fromEnv('FANOUT_MAIN_PORT', port.default(8090)),
  /** The Spark job's output. @default 'emoji.aggregates.v1' */
  aggregatesTopic: fromEnv('AGGREGATES_TOPIC', z.string().min(1).default(TOPICS.aggregates)),
  /** @default 'emostream-fanout-main' */
  groupId: fromEnv('FANOUT_MAIN_GROUP_ID', z.string().min(1).default('emostream-fanout-main')),
  /** Recent windows kept per match (the snapshot a joining viewer gets). @default 30 */
  windowsKept: fromEnv('FANOUT_WINDOWS_KEPT', positiveInt.default(30)),
  /** Matches whose windows are kept at most. @default 10000 */
  maxMatches: fromEnv('FANOUT_MAX_MATCHES', positiveInt.default(10_000)),
  /** On start, re-read this much of the aggregates topic to rebuild the recent windows, ms. @default 60000 */
  replayMs: fromEnv('FANOUT_REPLAY_MS', z.coerce.number().int().min(0).default(60_000)),
  /** A node that has not reported for this long is no longer offered nor routed to, ms. @default 5000 */
  nodeTtlMs: fromEnv('FANOUT_NODE_TTL_MS', positiveInt.default(5_000)),
  /** Origins of browser pages allowed to call the directory (comma list). @default the web viewer's (common/cors.ts) */
  corsOrigins: fromEnv('CORS_ORIGINS', corsOriginsVar),
};

const CLUSTER_PUBLISHER_ENV = {
  ...KAFKA_ENV,
  /** The cluster this publisher serves. */
  clusterId: fromEnv('CLUSTER_ID', clusterIdSchema),
  /** 0 picks a free port. @default 8091 */
  port: fromEnv('CLUSTER_PUBLISHER_PORT', port.default(8091)),
  /** @default `emostream-fanout-cluster-<cluster id>` */
  groupId: fromEnv('FANOUT_CLUSTER_GROUP_ID', z.string().min(1).optional()),
  /** Messages routed longer ago than this are not forwarded (replays after a long outage), ms. @default 30000 */
  staleMs: fromEnv('FANOUT_STALE_MS', positiveInt.default(30_000)),
  /** When set, a subscriber node must present it (`auth.link_secret`) to connect. @default none (no check) */
  linkSecret,
};

const SUBSCRIBER_NODE_ENV = {
  /** Interface the Socket.IO server binds. @default '127.0.0.1' */
  host: KAFKA_ENV.host,
  /** The cluster this node belongs to. */
  clusterId: fromEnv('CLUSTER_ID', clusterIdSchema),
  /** 0 picks a free port. @default 8092 */
  port: fromEnv('SUBSCRIBER_PORT', port.default(8092)),
  /** Unique per node. @default `<cluster id>-<random>` */
  nodeId: fromEnv('NODE_ID', nodeIdSchema.optional()),
  /** Address viewers are sent to by the directory. @default `http://HOST:<bound port>` */
  publicUrl: fromEnv('PUBLIC_URL', urlVar.optional()),
  /** The cluster publisher this node relays from. */
  clusterPublisherUrl: fromEnv('CLUSTER_PUBLISHER_URL', urlVar),
  /** The main publisher, which serves the directory and the snapshots. */
  directoryUrl: fromEnv('DIRECTORY_URL', urlVar),
  /** When set, viewers must present it as `auth.token` on the handshake. @default none (no check) */
  viewerToken: fromEnv('VIEWER_TOKEN', z.string().min(8).optional()),
  /**
   * `jwt`: viewers present a JWT as `auth.token`, checked as `AUTH_*` say (common/auth.ts); its `matches` claim
   * restricts what they may join, its expiry disconnects them. @default 'off' (`VIEWER_TOKEN`, if set, applies)
   */
  viewerAuth: fromEnv('VIEWER_AUTH', z.enum(['off', 'jwt']).optional()),
  /**
   * Page origins whose WebSockets are accepted (a handshake without `Origin` is not a page and passes).
   * @default the web viewer's (common/cors.ts), as for ingest and the directory
   */
  corsOrigins: fromEnv('CORS_ORIGINS', corsOriginsVar.optional()),
  /** Sustained handshakes per second per client address; 0 disables the limit. @default 0 */
  handshakeRatePerSec: fromEnv(
    'VIEWER_HANDSHAKE_RATE_LIMIT_PER_SEC',
    z.coerce.number().min(0).max(1_000_000).optional(),
  ),
  /** @default 50 */
  handshakeBurst: fromEnv('VIEWER_HANDSHAKE_RATE_LIMIT_BURST', positiveInt.optional()),
  /** Peers whose `X-Forwarded-For` names the viewer (CIDR list). @default [] */
  trustedProxies: fromEnv('VIEWER_TRUSTED_PROXIES', trustedProxiesVar.optional()),
  /** Sent to the cluster publisher (`FANOUT_LINK_SECRET`). @default none */
  linkSecret,
  /** Rooms one viewer socket may join. @default 8 */
  maxRoomsPerSocket: fromEnv('MAX_ROOMS_PER_SOCKET', positiveInt.default(8)),
  /** A viewer whose connection could not take a write for this long is disconnected, ms. @default 10000 */
  slowViewerMs: fromEnv('SLOW_VIEWER_MS', positiveInt.default(10_000)),
  /** A viewer with more than this many bytes or packets queued is disconnected. @default 1048576 */
  maxViewerBufferBytes: fromEnv('MAX_VIEWER_BUFFER_BYTES', positiveInt.default(1 << 20)),
  /** Interval of the node's directory report, ms. @default 1000 */
  heartbeatMs: fromEnv('HEARTBEAT_MS', positiveInt.default(1_000)),
};

/** Main publisher configuration. */
export type MainPublisherConfig = EnvConfig<typeof MAIN_PUBLISHER_ENV>;

/** Cluster publisher configuration (the group id default resolved). */
export type ClusterPublisherConfig = Omit<EnvConfig<typeof CLUSTER_PUBLISHER_ENV>, 'groupId'> & {
  /** @default `emostream-fanout-cluster-<cluster id>` */
  groupId: string;
};

/** Subscriber node configuration (the node id default resolved). */
export type SubscriberNodeConfig = Omit<EnvConfig<typeof SUBSCRIBER_NODE_ENV>, 'nodeId'> & {
  /** Unique per node. @default `<cluster id>-<random>` */
  nodeId: string;
  /** How viewer JWTs are checked (`AUTH_*`), set when `VIEWER_AUTH=jwt`. */
  viewerJwt?: AuthConfig;
};

/** The per-cluster topic between the main publisher and cluster `clusterId`. */
export function clusterTopic(prefix: string, clusterId: string): string {
  return `${prefix}.${clusterId}`;
}

/** Reads the main publisher's configuration from `env`. */
export function mainPublisherConfigFromEnv(env: NodeJS.ProcessEnv = process.env): MainPublisherConfig {
  const c = parseEnv('fan-out main publisher', MAIN_PUBLISHER_ENV, env);
  // Kafka and registry credentials are applied by createKafka/createRegistryClient; a bad one stops the start here.
  clientSecurityFromEnv(env, 'fan-out main publisher');
  return c;
}

/** Reads a cluster publisher's configuration from `env`. */
export function clusterPublisherConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ClusterPublisherConfig {
  const c = parseEnv('fan-out cluster publisher', CLUSTER_PUBLISHER_ENV, env);
  clientSecurityFromEnv(env, 'fan-out cluster publisher');
  return { ...c, groupId: c.groupId ?? `emostream-fanout-cluster-${c.clusterId}` };
}

/** Reads a subscriber node's configuration from `env`. */
export function subscriberNodeConfigFromEnv(env: NodeJS.ProcessEnv = process.env): SubscriberNodeConfig {
  const service = 'fan-out subscriber node';
  const c = parseEnv(service, SUBSCRIBER_NODE_ENV, env);
  let viewerJwt: AuthConfig | undefined;
  if (c.viewerAuth === 'jwt') {
    viewerJwt = parseEnv(service, AUTH_ENV, env);
    const problem = authConfigProblem(viewerJwt);
    if (problem !== undefined)
      throw new ConfigError(service, [{ variable: 'VIEWER_AUTH', message: `is jwt: ${problem}` }]);
  }
  return {
    ...c,
    viewerJwt,
    nodeId: c.nodeId ?? `${c.clusterId}-${Math.random().toString(36).slice(2, 10)}`,
  };
}
