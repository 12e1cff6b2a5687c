/**
 * A replicated Kafka on loopback: N combined broker+controller KRaft nodes with one static quorum (every node a
 * voter), each node a {@link prepareKafkaBroker} of its own (config dir `<runDir>/kafka-<n>`, log dir
 * `<dataRoot>/node-<n>`), all formatted with the same cluster id. Internal topics and the broker defaults carry the
 * cluster's replication factor and min ISR, so a topic created without an explicit factor (the fan-out's per-cluster
 * topics) is replicated too, and an acks=all write survives the loss of any one node.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { TopicSpec } from '../../common/kafka.ts';
import { ServiceError } from './errors.ts';
import { clusterId, formattedClusterId, prepareKafkaBroker } from './kafka-broker.ts';
import type { Runtime } from './provisioner.ts';
import type { ServiceSpec } from './supervisor.ts';

/** Ports of one node. */
export interface KafkaNodePorts {
  port: number;
  controllerPort: number;
}

/** How a cluster's topics are replicated. */
export interface Replication {
  /** Replicas per partition. */
  factor: number;
  /** `min.insync.replicas`: an acks=all write needs this many replicas in sync, or it is refused (retriable). */
  minInsync: number;
}

/** One broker: one replica, which alone is in sync. */
export const SINGLE_REPLICA: Replication = { factor: 1, minInsync: 1 };

/** Three replicas, two in sync: one node may be down (a restart, a SIGKILL) without refusing or losing a write. */
export const CLUSTER_REPLICATION: Replication = { factor: 3, minInsync: 2 };

export interface KafkaClusterOptions {
  host: string;
  /** One entry per node; node ids are 1..N in this order. */
  nodes: readonly KafkaNodePorts[];
  /** @default CLUSTER_REPLICATION (capped at the node count) */
  replication?: Replication;
  /** JVM max heap per node. @default '512m' */
  heap?: string;
  /** Log dirs go to `<dataRoot>/node-<n>`, kept across runs. @default `<runDir>/kafka-cluster`, formatted afresh */
  dataRoot?: string;
  /** Extra `server.properties` entries of every node (retention, for instance). */
  properties?: Record<string, string | number | boolean>;
}

/** Service name of node `n` (1-based). */
export const kafkaNodeName = (n: number) => `kafka-${n}`;

/** Service names of a cluster of `count` nodes, e.g. for reaping the leftovers of a killed run. */
export const kafkaNodeNames = (count: number) =>
  Array.from({ length: count }, (_, i) => kafkaNodeName(i + 1));

/** Broker port of node i (0-based) counted from a base: 9092/9093, 9094/9095, 9096/9097 for base 9092. */
export function kafkaNodePorts(basePort: number, count: number): KafkaNodePorts[] {
  return Array.from({ length: count }, (_, i) => ({
    port: basePort + 2 * i,
    controllerPort: basePort + 2 * i + 1,
  }));
}

/** The `server.properties` overrides that make node `nodeId` one voter of the cluster. */
export function clusterNodeProperties(
  options: KafkaClusterOptions,
  nodeId: number,
): Record<string, string | number | boolean> {
  const { factor, minInsync } = effectiveReplication(options);
  return {
    'node.id': nodeId,
    'controller.quorum.voters': options.nodes
      .map((n, i) => `${i + 1}@${options.host}:${n.controllerPort}`)
      .join(','),
    'default.replication.factor': factor,
    'min.insync.replicas': minInsync,
    'offsets.topic.replication.factor': factor,
    'transaction.state.log.replication.factor': factor,
    'transaction.state.log.min.isr': minInsync,
    'share.coordinator.state.topic.replication.factor': factor,
    'share.coordinator.state.topic.min.isr': minInsync,
    // A replica that was down must never become leader: it would drop acknowledged writes it missed.
    'unclean.leader.election.enable': false,
    // A dead leader is fenced (and its partitions move) after this much silence; Kafka's 9 s is for real networks.
    'broker.session.timeout.ms': 6000,
    'broker.heartbeat.interval.ms': 1500,
  };
}

function effectiveReplication(options: KafkaClusterOptions): Replication {
  const r = options.replication ?? CLUSTER_REPLICATION;
  const factor = Math.min(r.factor, options.nodes.length);
  return { factor, minInsync: Math.min(r.minInsync, factor) };
}

/**
 * The cluster id the nodes' log dirs are formatted with, or a fresh one when none is formatted yet. Nodes formatted
 * for different clusters (a half-wiped data dir) would never form a quorum: an error that says how to start over.
 */
function sharedClusterId(logDirs: readonly string[]): string {
  const ids = new Set(logDirs.map((d) => formattedClusterId(d)).filter((id) => id !== undefined));
  if (ids.size > 1) {
    throw new ServiceError(
      kafkaNodeName(1),
      `the cluster's log dirs (${logDirs.join(', ')}) belong to different clusters (${[...ids].join(', ')}); ` +
        'wipe the data dir with `npm run reset` (or start with --fresh)',
    );
  }
  return [...ids][0] ?? clusterId();
}

/**
 * Writes every node's config, formats the unformatted log dirs with the cluster's id, and returns one service spec
 * per node. The specs are meant to start together (`after: []`): a node is ready once it answers metadata with an
 * active controller, which takes a majority of the voters.
 */
export async function prepareKafkaCluster(
  rt: Runtime,
  runDir: string,
  options: KafkaClusterOptions,
): Promise<ServiceSpec[]> {
  if (options.nodes.length === 0) throw new ServiceError('kafka', 'a Kafka cluster needs at least one node');
  const dataRoot = options.dataRoot ?? path.join(runDir, 'kafka-cluster');
  const logDirs = options.nodes.map((_, i) => path.join(dataRoot, `node-${i + 1}`));
  for (const d of logDirs) mkdirSync(d, { recursive: true });
  const id = sharedClusterId(logDirs);
  return Promise.all(
    options.nodes.map(async (node, i) => {
      const spec = await prepareKafkaBroker(rt, runDir, {
        host: options.host,
        port: node.port,
        controllerPort: node.controllerPort,
        heap: options.heap ?? '512m',
        logDir: logDirs[i],
        name: kafkaNodeName(i + 1),
        clusterId: id,
        properties: { ...options.properties, ...clusterNodeProperties(options, i + 1) },
      });
      return { ...spec, after: [] };
    }),
  );
}

/** `host:port,host:port,…` of the cluster's brokers, the value of KAFKA_BROKERS. */
export function clusterBrokers(host: string, nodes: readonly KafkaNodePorts[]): string {
  return nodes.map((n) => `${host}:${n.port}`).join(',');
}

/**
 * The topic specs of a stack at `replication`: the factor on each topic and its `min.insync.replicas` beside the
 * other configs (retention), so `ensureTopic` creates them replicated and aligns the min ISR of topics made earlier.
 */
export function replicatedTopicSpecs(
  topics: Record<string, number>,
  replication: Replication,
  configs: Record<string, string> = {},
): TopicSpec[] {
  return Object.entries(topics).map(([topic, partitions]) => ({
    topic,
    partitions,
    replicationFactor: replication.factor,
    configs: { ...configs, 'min.insync.replicas': String(replication.minInsync) },
  }));
}
