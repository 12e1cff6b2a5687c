/**
 * The short chaos suite (issue #10, item 5): the whole pipeline under steady load (durable and async requests, a
 * few dozen viewers), then one at a time: redelivery of records already on the reactions topic (what ingest's
 * at-least-once retry does), SIGKILL of one subscriber node, SIGTERM of ingest and SIGKILL of the Spark driver,
 * judged against the targets: every durable acknowledgement counted exactly once in its window, the node's viewers
 * back with a snapshot within 5 s, swarms flowing again after the driver's death (within the recovery timeout; the
 * 30 s target is printed here and judged by `npm run chaos`, since the time a JVM takes to start on a loaded
 * machine says nothing about correctness) and every window exact.
 *
 * It must fail when supervision is off and when the job's dedupe is off; two explicit switches prove it does:
 * - EMOSTREAM_CHAOS_NO_RESTART=1 starts the pipeline without its restart policy: the driver and ingest stay dead,
 *   swarms never come back;
 * - SPARK_UNSAFE_DROP_DEDUPE=1 (read by the Spark job's config) drops the dedupe key: redelivered records count twice.
 * `npm run chaos` is the full version, on a stack of its own.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createKafka, ensureTopic, KafkaLogLevel } from '../common/kafka.ts';
import { createLogger } from '../common/logger.ts';
import { type ChaosResult, formatTable, runChaos } from '../infra/chaos/chaos-run.ts';
import { allFaults } from '../infra/chaos/faults.ts';
import { DEFAULT_TOPOLOGY, type Pipeline, startPipeline } from '../infra/local/pipeline-services.ts';

const run = randomUUID().slice(0, 8);
const topics = {
  reactions: `chaos.reactions.${run}`,
  aggregates: `chaos.aggregates.${run}`,
  fanoutPrefix: `chaos.fanout.${run}`,
};
const FAULTS = ['redeliver', 'subscriber-node', 'ingest-term', 'spark-driver'];

let pipeline: Pipeline;
let result: ChaosResult;

beforeAll(async () => {
  const brokers = inject('kafkaBrokers');
  const kafka = createKafka({
    clientId: 'e2e-chaos',
    brokers,
    logger: createLogger('e2e-chaos'),
    logLevel: KafkaLogLevel.ERROR,
  });
  await ensureTopic(kafka, [
    { topic: topics.reactions, partitions: 4 },
    { topic: topics.aggregates, partitions: 2 },
  ]);
  pipeline = await startPipeline({
    kafkaBrokers: brokers,
    registryUrl: inject('registryUrl'),
    topics,
    groupSuffix: run,
    ...(process.env.EMOSTREAM_CHAOS_NO_RESTART === '1' ? { restart: false as const } : {}),
    ingestEnv: { INGEST_RATE_LIMIT_PER_SEC: '0', LOG_LEVEL: 'warn' },
    fanoutEnv: { FANOUT_NODE_TTL_MS: '3000', LOG_LEVEL: 'warn' },
  });
}, 420_000);

afterAll(async () => {
  await pipeline?.stop();
}, 180_000);

describe('faults under load', () => {
  it('lose and double count no durable acknowledgement, and heal within the targets', async () => {
    const faults = allFaults(pipeline, DEFAULT_TOPOLOGY.clusters);
    result = await runChaos({
      target: { pipeline, kafkaBrokers: inject('kafkaBrokers'), reactionsTopic: topics.reactions },
      faults: FAULTS.map((id) => faults.find((f) => f.id === id)).filter((f) => f !== undefined),
      ingestUrl: pipeline.ingestUrl,
      directoryUrl: pipeline.directoryUrl,
      rate: 300,
      viewers: 40,
      matches: 2,
      settleS: 3,
      warmupS: 4,
      recoveryTimeoutS: 90,
      finalTimeoutS: 40,
    });
    process.stderr.write(`\n${formatTable(result)}\n`);
    expect(result.faults.map((f) => f.fault)).toEqual(FAULTS);
    // Timing targets (the driver back within 30 s) are npm run chaos's to judge; here they are reported only.
    for (const t of result.targets.filter((t) => t.timing && !t.ok))
      process.stderr.write(
        `timing target missed (reported, not asserted here): ${t.fault}: ${t.target}: ${t.detail}\n`,
      );
    const missed = result.targets.filter((t) => !t.ok && !t.timing);
    expect(missed, JSON.stringify({ missed, bad_windows: result.bad_windows.slice(0, 20) }, null, 2)).toEqual(
      [],
    );
    // Each fault had load to judge: a run that acknowledged nothing would pass every count trivially.
    for (const f of result.faults) expect(f.durable.acked, f.fault).toBeGreaterThan(0);
    const node = result.faults.find((f) => f.fault === 'subscriber-node');
    expect(node?.viewers_lost, 'the killed node served viewers').toBeGreaterThan(0);
  }, 400_000);
});
