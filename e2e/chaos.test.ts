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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChaosResult, formatTable, runChaos } from '../infra/chaos/chaos-run.ts';
import { allFaults } from '../infra/chaos/faults.ts';
import { DEFAULT_TOPOLOGY } from '../infra/local/pipeline-services.ts';
import { startTestPipeline, type TestPipeline } from './test-pipeline.fixture.ts';

const FAULTS = ['redeliver', 'subscriber-node', 'ingest-term', 'spark-driver'];

let test: TestPipeline;
let result: ChaosResult;

beforeAll(async () => {
  test = await startTestPipeline({
    name: 'chaos',
    partitions: { reactions: 4, aggregates: 2 },
    ...(process.env.EMOSTREAM_CHAOS_NO_RESTART === '1' ? { restart: false as const } : {}),
    ingestEnv: { INGEST_RATE_LIMIT_PER_SEC: '0' },
  });
}, 420_000);

afterAll(async () => {
  await test?.pipeline.stop();
}, 180_000);

describe('faults under load', () => {
  it('lose and double count no durable acknowledgement, and heal within the targets', async () => {
    const { pipeline, kafkaBrokers, topics } = test;
    const faults = allFaults(pipeline, DEFAULT_TOPOLOGY.clusters);
    result = await runChaos({
      target: { pipeline, kafkaBrokers, reactionsTopic: topics.reactions },
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
