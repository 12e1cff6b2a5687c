/**
 * The faults of the chaos suite, each one signal (or one act) against one service of a running stack + pipeline.
 * A fault only injects; healing is the supervisor's job, and the run measures whether and how fast it happened.
 *
 * Process groups: every service leads its own process group (infra/local/supervisor.ts), so SIGKILL of the group
 * is a crash of the service with everything it started (the Spark launcher, spark-submit and the driver JVM alike).
 * SIGTERM goes to the service's own process (the group's leader), as an operator's `kill` would, so that it drains
 * and exits on its own.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createKafka, KafkaLogLevel } from '../../common/kafka.ts';
import { createLogger } from '../../common/logger.ts';
import type { Pipeline } from '../local/pipeline-services.ts';
import { isAlive, type RunningService } from '../local/supervisor.ts';

/** What a fault acts on. */
export interface FaultTarget {
  pipeline: Pipeline;
  /** Kafka and the registry, when the run started them (broker and registry faults need it). */
  stackServices?: readonly RunningService[];
  kafkaBrokers: string;
  /** The reactions topic (for {@link redeliver}). */
  reactionsTopic: string;
}

/** One fault. */
export interface Fault {
  /** Its name on the command line and in reports. */
  id: string;
  /** What it does, for the table and the report. */
  what: string;
  /** Subscriber node whose viewers it cuts off, if any (the viewers-back measurement looks at these). */
  node?: string;
  inject(target: FaultTarget): Promise<void>;
}

/** Thrown for a fault that cannot be injected (a service not running, an unknown name). */
export class FaultError extends Error {
  override readonly name = 'FaultError';
}

function serviceOf(target: FaultTarget, name: string): RunningService {
  const found =
    target.pipeline.services.find((s) => s.name === name) ??
    target.stackServices?.find((s) => s.name === name);
  if (!found) throw new FaultError(`no service ${name} in this run`);
  return found;
}

async function waitGone(pid: number, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) throw new FaultError(`${what} still alive ${timeoutMs} ms after the signal`);
    await sleep(50);
  }
}

/** SIGKILL of a service's whole process group; resolves once the group is gone. */
export async function killGroup(service: RunningService): Promise<void> {
  const pgid = service.pid;
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    throw new FaultError(`${service.name} (process group ${pgid}) is not running`);
  }
  await waitGone(-pgid, `process group ${pgid} of ${service.name}`);
}

/**
 * A fault that SIGKILLs one service's process group ({@link killGroup}): the service `pick` names at injection
 * time, a fixed one (`() => 'ingest'`) or one chosen from the running stack (the node leading a partition).
 */
export function killOne(
  id: string,
  what: string,
  pick: (target: FaultTarget) => string | Promise<string>,
): Fault {
  return { id, what, inject: async (t) => killGroup(serviceOf(t, await pick(t))) };
}

/** SIGTERM to a service's own process (the group's leader); resolves once it has exited. */
export async function terminate(service: RunningService): Promise<void> {
  const pid = service.pid;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    throw new FaultError(`${service.name} (pid ${pid}) is not running`);
  }
  await waitGone(pid, `${service.name} (pid ${pid})`, 30_000);
}

/**
 * Writes the last `perPartition` records of each partition of the reactions topic again, byte for byte: what
 * ingest's at-least-once retry does when a send whose first attempt landed is repeated. Counts must not move.
 */
export async function redeliver(target: FaultTarget, perPartition = 50): Promise<number> {
  const kafka = createKafka({
    clientId: 'emostream-chaos-redeliver',
    brokers: target.kafkaBrokers,
    logger: createLogger('chaos-redeliver'),
    logLevel: KafkaLogLevel.ERROR,
  });
  const admin = kafka.admin();
  const consumer = kafka.consumer({ groupId: `emostream-chaos-redeliver-${Date.now()}` });
  const producer = kafka.producer();
  const topic = target.reactionsTopic;
  try {
    await Promise.all([admin.connect(), consumer.connect(), producer.connect()]);
    const offsets = await admin.fetchTopicOffsets(topic);
    const want = new Map<number, { from: string; to: bigint }>();
    for (const o of offsets) {
      const high = BigInt(o.high);
      const from = high - BigInt(perPartition) > BigInt(o.low) ? high - BigInt(perPartition) : BigInt(o.low);
      if (high > from) want.set(o.partition, { from: String(from), to: high });
    }
    const copies: { partition: number; key: Buffer | null; value: Buffer | null }[] = [];
    const done = new Set<number>();
    await consumer.subscribe({ topic });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new FaultError('redeliver: could not read the records back in 20 s')),
        20_000,
      );
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            const w = want.get(partition);
            if (!w || done.has(partition)) return;
            if (BigInt(message.offset) < w.to)
              copies.push({ partition, key: message.key, value: message.value });
            if (BigInt(message.offset) + 1n >= w.to) done.add(partition);
            if (done.size === want.size) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
      for (const [partition, w] of want) consumer.seek({ topic, partition, offset: w.from });
      if (want.size === 0) {
        clearTimeout(timer);
        resolve();
      }
    });
    await producer.send({ topic, acks: -1, messages: copies });
    return copies.length;
  } finally {
    await Promise.allSettled([consumer.disconnect(), producer.disconnect(), admin.disconnect()]);
  }
}

/** Every fault the suite knows, for a pipeline of these clusters and nodes, in the default order. */
export function allFaults(pipeline: Pick<Pipeline, 'nodes'>, clusters: readonly string[]): Fault[] {
  const kill = (id: string, service: string, what: string) => killOne(id, what, () => service);
  const node = pipeline.nodes[0]?.name ?? 'node-cluster-a-1';
  return [
    kill(
      'spark-driver',
      'spark-job',
      'SIGKILL of the job driver (Spark: launcher, spark-submit, JVM; Flink: runner and its JVM)',
    ),
    kill('main-publisher', 'main-publisher', 'SIGKILL of the fan-out main publisher (directory)'),
    ...clusters.map((c) =>
      kill(`cluster-publisher-${c}`, `cluster-publisher-${c}`, `SIGKILL of the cluster publisher of ${c}`),
    ),
    { ...kill('subscriber-node', node, `SIGKILL of subscriber node ${node}`), node },
    kill('ingest-kill', 'ingest', 'SIGKILL of ingest'),
    {
      id: 'ingest-term',
      what: 'SIGTERM of ingest (drains, then exits)',
      inject: async (t) => terminate(serviceOf(t, 'ingest')),
    },
    {
      id: 'redeliver',
      what: 'the last 50 records of each reactions partition written again (an at-least-once retry)',
      inject: async (t) => {
        await redeliver(t);
      },
    },
    kill('broker', 'kafka', 'SIGKILL of the Kafka broker (restarted by the supervisor)'),
    kill('registry', 'registry', 'SIGKILL of the schema registry'),
  ];
}

/** The node id of the leader of partition 0 of the reactions topic, asked of the cluster. */
async function reactionsLeader(target: FaultTarget): Promise<number> {
  const kafka = createKafka({
    clientId: 'emostream-chaos-leader',
    brokers: target.kafkaBrokers,
    logger: createLogger('chaos-leader'),
    logLevel: KafkaLogLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [target.reactionsTopic] });
    const leader = topics[0]?.partitions.find((p) => p.partitionId === 0)?.leader ?? -1;
    if (leader < 0) throw new FaultError(`partition 0 of ${target.reactionsTopic} has no leader`);
    return leader;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * The faults of the cluster profile (infra/local/profiles.ts), one replica of a tier each: the Kafka node leading a
 * reactions partition, a Spark worker, an ingest replica, a main publisher instance. Names follow profiles.ts.
 */
export function clusterFaults(): Fault[] {
  const kill = (id: string, service: string, what: string) => killOne(id, what, () => service);
  return [
    killOne(
      'leader-broker',
      'SIGKILL of the Kafka node leading reactions partition 0 (restarted by the supervisor)',
      async (t) => `kafka-${await reactionsLeader(t)}`,
    ),
    kill('spark-worker', 'spark-worker-1', 'SIGKILL of Spark worker 1 (and its executors)'),
    kill('ingest-replica', 'ingest-1', 'SIGKILL of ingest replica 1 (HAProxy routes to the other)'),
    kill('main-publisher-instance', 'main-publisher-1', 'SIGKILL of main publisher 1 (the other serves on)'),
  ];
}
