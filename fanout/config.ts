/**
 * Configuration of the three fan-out roles, parsed once from the environment with zod. Every bad key is named
 * in one {@link ConfigError}.
 */
import { z } from 'zod';
import { TOPICS } from '../common/topics.ts';
import { ConfigError } from './errors.ts';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const csv = z
  .string()
  .min(1)
  .transform((s) =>
    s
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p.length > 0),
  )
  .pipe(z.array(z.string()).min(1));
const url = z.url({ protocol: /^https?$/ });
/** Cluster ids become part of topic names and group ids. */
export const clusterIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'lowercase letters, digits, -');
const nodeIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/);

const kafkaEnv = {
  KAFKA_BROKERS: csv,
  SCHEMA_REGISTRY_URL: z.string().min(1),
  HOST: z.string().min(1).default('127.0.0.1'),
  /** Prefix of the per-cluster topics between the main and the cluster publishers: `<prefix>.<cluster id>`. */
  FANOUT_TOPIC_PREFIX: z.string().min(1).default(TOPICS.fanout),
};

const mainPublisherEnv = z.object({
  ...kafkaEnv,
  FANOUT_MAIN_PORT: port.default(8090),
  AGGREGATES_TOPIC: z.string().min(1).default(TOPICS.aggregates),
  FANOUT_MAIN_GROUP_ID: z.string().min(1).default('emostream-fanout-main'),
  /** Partitions of each per-cluster topic, created explicitly. */
  FANOUT_TOPIC_PARTITIONS: positiveInt.default(3),
  FANOUT_WINDOWS_KEPT: positiveInt.default(30),
  FANOUT_MAX_MATCHES: positiveInt.default(10_000),
  /** On start, re-read this much of the aggregates topic to rebuild the recent windows. */
  FANOUT_REPLAY_MS: z.coerce.number().int().min(0).default(60_000),
  /** A node that has not reported for this long is no longer offered nor routed to. */
  FANOUT_NODE_TTL_MS: positiveInt.default(5_000),
});

const clusterPublisherEnv = z.object({
  ...kafkaEnv,
  CLUSTER_ID: clusterIdSchema,
  CLUSTER_PUBLISHER_PORT: port.default(8091),
  FANOUT_CLUSTER_GROUP_ID: z.string().min(1).optional(),
  /** Partitions of the cluster's topic if this publisher creates it first. */
  FANOUT_TOPIC_PARTITIONS: positiveInt.default(3),
  /** Messages routed longer ago than this are not forwarded (replays after a long outage). */
  FANOUT_STALE_MS: positiveInt.default(30_000),
});

const subscriberNodeEnv = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  CLUSTER_ID: clusterIdSchema,
  SUBSCRIBER_PORT: port.default(8092),
  NODE_ID: nodeIdSchema.optional(),
  /** Address viewers are sent to by the directory; default `http://HOST:<bound port>`. */
  PUBLIC_URL: url.optional(),
  CLUSTER_PUBLISHER_URL: url,
  /** The main publisher, which serves the directory and the snapshots. */
  DIRECTORY_URL: url,
  /** When set, viewers must present it as `auth.token` on the handshake. */
  VIEWER_TOKEN: z.string().min(8).optional(),
  MAX_ROOMS_PER_SOCKET: positiveInt.default(8),
  /** A viewer whose connection could not take a write for this long is disconnected. */
  SLOW_VIEWER_MS: positiveInt.default(10_000),
  /** A viewer with more than this many bytes or packets queued is disconnected. */
  MAX_VIEWER_BUFFER_BYTES: positiveInt.default(1 << 20),
  HEARTBEAT_MS: positiveInt.default(1_000),
});

/** Main publisher configuration. */
export interface MainPublisherConfig {
  kafkaBrokers: string[];
  registryUrl: string;
  host: string;
  port: number;
  aggregatesTopic: string;
  groupId: string;
  topicPrefix: string;
  topicPartitions: number;
  windowsKept: number;
  maxMatches: number;
  replayMs: number;
  nodeTtlMs: number;
}

/** Cluster publisher configuration. */
export interface ClusterPublisherConfig {
  kafkaBrokers: string[];
  registryUrl: string;
  host: string;
  port: number;
  clusterId: string;
  groupId: string;
  topicPrefix: string;
  topicPartitions: number;
  staleMs: number;
}

/** Subscriber node configuration. */
export interface SubscriberNodeConfig {
  host: string;
  port: number;
  clusterId: string;
  /** Unique per node; default `<cluster>-<random>`. */
  nodeId: string;
  publicUrl?: string;
  clusterPublisherUrl: string;
  directoryUrl: string;
  viewerToken?: string;
  maxRoomsPerSocket: number;
  slowViewerMs: number;
  maxViewerBufferBytes: number;
  heartbeatMs: number;
}

function parse<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `${issue.path.join('.') || '(env)'}: ${issue.message}`,
    );
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  return result.data;
}

/** The per-cluster topic between the main publisher and cluster `clusterId`. */
export function clusterTopic(prefix: string, clusterId: string): string {
  return `${prefix}.${clusterId}`;
}

/** Reads the main publisher's configuration from `env`. */
export function mainPublisherConfigFromEnv(env: NodeJS.ProcessEnv = process.env): MainPublisherConfig {
  const e = parse(mainPublisherEnv, env);
  return {
    kafkaBrokers: e.KAFKA_BROKERS,
    registryUrl: e.SCHEMA_REGISTRY_URL,
    host: e.HOST,
    port: e.FANOUT_MAIN_PORT,
    aggregatesTopic: e.AGGREGATES_TOPIC,
    groupId: e.FANOUT_MAIN_GROUP_ID,
    topicPrefix: e.FANOUT_TOPIC_PREFIX,
    topicPartitions: e.FANOUT_TOPIC_PARTITIONS,
    windowsKept: e.FANOUT_WINDOWS_KEPT,
    maxMatches: e.FANOUT_MAX_MATCHES,
    replayMs: e.FANOUT_REPLAY_MS,
    nodeTtlMs: e.FANOUT_NODE_TTL_MS,
  };
}

/** Reads a cluster publisher's configuration from `env`. */
export function clusterPublisherConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ClusterPublisherConfig {
  const e = parse(clusterPublisherEnv, env);
  return {
    kafkaBrokers: e.KAFKA_BROKERS,
    registryUrl: e.SCHEMA_REGISTRY_URL,
    host: e.HOST,
    port: e.CLUSTER_PUBLISHER_PORT,
    clusterId: e.CLUSTER_ID,
    groupId: e.FANOUT_CLUSTER_GROUP_ID ?? `emostream-fanout-cluster-${e.CLUSTER_ID}`,
    topicPrefix: e.FANOUT_TOPIC_PREFIX,
    topicPartitions: e.FANOUT_TOPIC_PARTITIONS,
    staleMs: e.FANOUT_STALE_MS,
  };
}

/** Reads a subscriber node's configuration from `env`. */
export function subscriberNodeConfigFromEnv(env: NodeJS.ProcessEnv = process.env): SubscriberNodeConfig {
  const e = parse(subscriberNodeEnv, env);
  return {
    host: e.HOST,
    port: e.SUBSCRIBER_PORT,
    clusterId: e.CLUSTER_ID,
    nodeId: e.NODE_ID ?? `${e.CLUSTER_ID}-${Math.random().toString(36).slice(2, 10)}`,
    publicUrl: e.PUBLIC_URL,
    clusterPublisherUrl: e.CLUSTER_PUBLISHER_URL,
    directoryUrl: e.DIRECTORY_URL,
    viewerToken: e.VIEWER_TOKEN,
    maxRoomsPerSocket: e.MAX_ROOMS_PER_SOCKET,
    slowViewerMs: e.SLOW_VIEWER_MS,
    maxViewerBufferBytes: e.MAX_VIEWER_BUFFER_BYTES,
    heartbeatMs: e.HEARTBEAT_MS,
  };
}
