/**
 * The capacity model: what a load (viewers, reactions/s, matches) needs of each tier, from per-unit figures the
 * benchmarks measured on this code (ingest reactions/s per replica and per core, Spark rows/s per core with every
 * batch within the trigger, subscriber-node CPU and memory per viewer) and a few stated assumptions where no
 * benchmark exists yet (broker disk and network budget, nodes per cluster publisher). Pure: the reports are read by
 * `scripts/capacity.ts`; every figure carries where it came from, so the printout can say so.
 */

/** Where a figure came from: a benchmark report (path and date) or a stated assumption. */
export type Source = { report: string; at: string; detail: string } | { assumption: string };

export interface Figure {
  value: number;
  source: Source;
}

/** The load to plan for. */
export interface Load {
  viewers: number;
  reactionsPerSecond: number;
  matches: number;
}

/** Measured per-unit figures. */
export interface Measured {
  /** Reactions/s one ingest process accepted (all acknowledged by Kafka), and the cores it used for them. */
  ingestReactionsPerReplica: Figure;
  ingestCoresPerReplica: Figure;
  /** Spark rows/s per core used, at a rate whose batches all finished within the trigger. */
  sparkRowsPerCore: Figure;
  /**
   * Subscriber-node CPU ms per viewer per broadcast: what one more viewer adds (the slope of the node's CPU per
   * broadcast over the viewer levels measured; with one level, that level's CPU over its viewers).
   */
  nodeCpuMsPerViewerBroadcast: Figure;
  /**
   * Subscriber-node CPU ms per broadcast whatever its viewers (the intercept of the same fit: reading the aggregate,
   * encoding it once, the room's bookkeeping); 0 with one level. It is most of a node's work when few viewers watch.
   */
  nodeCpuMsPerBroadcast: Figure;
  /** Subscriber-node resident memory per connected viewer. */
  nodeBytesPerViewer: Figure;
  /** The most viewers one node served with broadcast p99 within the latency target. */
  nodeViewersWithinLatency: Figure;
  /** Bytes of one reaction record on Kafka (framed Avro value, key, record overhead). */
  reactionRecordBytes: Figure;
}

/** Settings of the deployment the model sizes; each default is a stated assumption. */
export interface Assumptions {
  /** Fraction of a unit's measured capacity to plan for (the rest absorbs bursts, rebalances and failures). */
  headroom: number;
  /** Broadcast messages per viewer per second: one swarm message per match per trigger. */
  broadcastsPerViewerPerSecond: number;
  /** A subscriber node is one Node.js event loop: one core. */
  nodeCores: number;
  /** Memory a subscriber node may use for its viewers. */
  nodeMemoryBytes: number;
  replicationFactor: number;
  retentionSeconds: number;
  /** Sustained write bytes/s one broker takes (leader and follower writes, disk and network). */
  brokerWriteBytesPerSecond: number;
  /** Disk of one broker for the log, at most 70 % filled. */
  brokerDiskBytes: number;
  /** Bytes/s one partition should carry (so one consumer task keeps up and rebalances stay quick). */
  partitionBytesPerSecond: number;
  /** Cores of one Spark executor. */
  executorCores: number;
  /** Subscriber nodes one cluster publisher feeds (no cluster-publisher benchmark yet). */
  nodesPerClusterPublisher: number;
  /** Subscriber nodes per fan-out cluster (one cluster publisher group each). */
  nodesPerCluster: number;
}

export const DEFAULT_ASSUMPTIONS: Assumptions = {
  headroom: 0.6,
  broadcastsPerViewerPerSecond: 0.5,
  nodeCores: 1,
  nodeMemoryBytes: 3 * 2 ** 30,
  replicationFactor: 3,
  retentionSeconds: 6 * 3600,
  brokerWriteBytesPerSecond: 100 * 2 ** 20,
  brokerDiskBytes: 2 * 2 ** 40,
  partitionBytesPerSecond: 5 * 2 ** 20,
  executorCores: 4,
  nodesPerClusterPublisher: 50,
  nodesPerCluster: 100,
};

/** Why an assumption has its default, printed beside figures that rest on it. */
export const ASSUMPTION_NOTES: Record<keyof Assumptions, string> = {
  headroom: 'plan each unit at 60 % of what it was measured to carry',
  broadcastsPerViewerPerSecond:
    'one swarm message per match per trigger of the swarm job (npm run capacity reads it from emoji-swarm.yml)',
  nodeCores: 'a subscriber node is one Node.js event loop',
  nodeMemoryBytes: 'a 4 GiB machine per node, 3 GiB of it for viewers',
  replicationFactor: 'RF 3, min.insync.replicas 2 (the cluster profile)',
  retentionSeconds: '6 h, the local runtime default',
  brokerWriteBytesPerSecond:
    '100 MiB/s of writes per broker (leader + follower), one NVMe disk and a 10 Gb/s NIC',
  brokerDiskBytes: '2 TiB of log disk per broker, filled to at most 70 %',
  partitionBytesPerSecond: '5 MiB/s per partition, so one Spark task per partition keeps up',
  executorCores: '4 cores per Spark executor',
  nodesPerClusterPublisher: 'no cluster-publisher benchmark yet: 50 nodes each',
  nodesPerCluster: '100 nodes per fan-out cluster',
};

/** One line of the plan. */
export interface Need {
  tier: string;
  count: number;
  unit: string;
  /** How the count follows from the figures, in words with the numbers. */
  because: string;
  sources: Source[];
}

const ceil = (n: number) => Math.max(1, Math.ceil(n - 1e-9));
const fmt = (n: number) => Math.round(n).toLocaleString('en');
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** The needs of `load`, tier by tier, from `measured` figures and `assumptions`. */
export function plan(load: Load, measured: Measured, assumptions: Assumptions = DEFAULT_ASSUMPTIONS): Need[] {
  const a = assumptions;
  const m = measured;
  const assumed = (key: keyof Assumptions): Source => ({
    assumption: `${key} ${a[key]}: ${ASSUMPTION_NOTES[key]}`,
  });
  const needs: Need[] = [];

  // Ingest: replicas as measured (a replica carries what one process carried in the benchmark), at the headroom.
  const perReplica = m.ingestReactionsPerReplica.value * a.headroom;
  const ingestReplicas = ceil(load.reactionsPerSecond / perReplica);
  needs.push({
    tier: 'ingest replicas',
    count: ingestReplicas,
    unit: `processes of ${m.ingestCoresPerReplica.value.toFixed(1)} cores`,
    because: `${fmt(load.reactionsPerSecond)} reactions/s ÷ (${fmt(m.ingestReactionsPerReplica.value)} per replica × ${a.headroom} headroom)`,
    sources: [m.ingestReactionsPerReplica.source, m.ingestCoresPerReplica.source, assumed('headroom')],
  });
  needs.push({
    tier: 'ingest cores',
    count: ceil(ingestReplicas * m.ingestCoresPerReplica.value),
    unit: 'cores',
    because: `${ingestReplicas} replicas × ${m.ingestCoresPerReplica.value.toFixed(2)} cores each`,
    sources: [m.ingestCoresPerReplica.source],
  });

  // Spark: executor cores from rows/s per core within the trigger.
  const sparkCores = ceil(load.reactionsPerSecond / (m.sparkRowsPerCore.value * a.headroom));
  needs.push({
    tier: 'Spark executor cores',
    count: sparkCores,
    unit: `cores (${ceil(sparkCores / a.executorCores)} executors of ${a.executorCores})`,
    because: `${fmt(load.reactionsPerSecond)} rows/s ÷ (${fmt(m.sparkRowsPerCore.value)} rows/s per core × ${a.headroom})`,
    sources: [m.sparkRowsPerCore.source, assumed('headroom'), assumed('executorCores')],
  });

  // Kafka: bytes in, partitions, brokers by write throughput and by retained bytes.
  const bytesIn = load.reactionsPerSecond * m.reactionRecordBytes.value;
  const byBytes = ceil(bytesIn / a.partitionBytesPerSecond);
  const brokersByWrites = ceil((bytesIn * a.replicationFactor) / a.brokerWriteBytesPerSecond);
  const retained = bytesIn * a.replicationFactor * a.retentionSeconds;
  const brokersByDisk = ceil(retained / (a.brokerDiskBytes * 0.7));
  const brokers = Math.max(a.replicationFactor, brokersByWrites, brokersByDisk);
  // At least one partition per Spark core (one task each) and per broker; a multiple of the brokers spreads leaders.
  const partitions = Math.ceil(Math.max(byBytes, sparkCores, brokers) / brokers) * brokers;
  needs.push({
    tier: 'reactions partitions',
    count: partitions,
    unit: 'partitions',
    because: `max(${byBytes} for ${mib(bytesIn)}/s at ${mib(a.partitionBytesPerSecond)}/s each, ${sparkCores} Spark cores, ${brokers} brokers), rounded up to a multiple of the brokers`,
    sources: [m.reactionRecordBytes.source, assumed('partitionBytesPerSecond')],
  });
  needs.push({
    tier: 'Kafka brokers',
    count: brokers,
    unit: 'brokers',
    because: `max(RF ${a.replicationFactor}, ${brokersByWrites} for ${mib(bytesIn * a.replicationFactor)}/s of replicated writes, ${brokersByDisk} for ${(retained / 2 ** 40).toFixed(2)} TiB retained over ${a.retentionSeconds / 3600} h)`,
    sources: [
      m.reactionRecordBytes.source,
      assumed('replicationFactor'),
      assumed('brokerWriteBytesPerSecond'),
      assumed('brokerDiskBytes'),
      assumed('retentionSeconds'),
    ],
  });

  // Subscriber nodes: the smallest of the CPU, memory and latency bounds per node.
  const cpuBudgetMsPerSecond = a.nodeCores * 1000 * a.headroom;
  const byCpu = Math.max(
    0,
    (cpuBudgetMsPerSecond / a.broadcastsPerViewerPerSecond - m.nodeCpuMsPerBroadcast.value) /
      m.nodeCpuMsPerViewerBroadcast.value,
  );
  const byMemory = (a.nodeMemoryBytes * a.headroom) / m.nodeBytesPerViewer.value;
  const byLatency = m.nodeViewersWithinLatency.value;
  const perNode = Math.floor(Math.min(byCpu, byMemory, byLatency));
  const bound =
    perNode === Math.floor(byCpu) ? 'CPU' : perNode === Math.floor(byMemory) ? 'memory' : 'latency';
  const nodes = ceil(load.viewers / perNode);
  needs.push({
    tier: 'subscriber nodes',
    count: nodes,
    unit: `nodes of ${fmt(perNode)} viewers (${bound}-bound)`,
    because: `${fmt(load.viewers)} viewers ÷ min(CPU ${fmt(byCpu)}, memory ${fmt(byMemory)}, latency ${fmt(byLatency)}) viewers per node`,
    sources: [
      m.nodeCpuMsPerViewerBroadcast.source,
      m.nodeCpuMsPerBroadcast.source,
      m.nodeBytesPerViewer.source,
      m.nodeViewersWithinLatency.source,
      assumed('broadcastsPerViewerPerSecond'),
      assumed('nodeMemoryBytes'),
    ],
  });
  const clusters = ceil(nodes / a.nodesPerCluster);
  const publishersPerCluster = ceil(Math.min(nodes, a.nodesPerCluster) / a.nodesPerClusterPublisher);
  needs.push({
    tier: 'fan-out clusters',
    count: clusters,
    unit: 'clusters',
    because: `${nodes} nodes ÷ ${a.nodesPerCluster} per cluster`,
    sources: [assumed('nodesPerCluster')],
  });
  needs.push({
    tier: 'cluster publishers',
    count: clusters * Math.max(2, publishersPerCluster),
    unit: 'processes',
    because: `${clusters} clusters × max(2 for failover, ${publishersPerCluster} for ${a.nodesPerClusterPublisher} nodes each)`,
    sources: [assumed('nodesPerClusterPublisher')],
  });
  needs.push({
    tier: 'main publishers',
    count: 2,
    unit: 'processes',
    because: `two for failover; each forwards every aggregate row to ${clusters} cluster topics (${fmt(load.matches)} matches)`,
    sources: [{ assumption: 'the cluster profile runs two main publishers' }],
  });
  return needs;
}
