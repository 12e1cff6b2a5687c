/**
 * The whole pipeline for one e2e test file: fresh topics of its own on the integration globalSetup's Kafka and
 * registry (created before any service starts, so partition counts are the test's, not a broker default), then
 * every EmoStream service as a supervised child process (`startPipeline`). What every e2e file shares lives here:
 * run-scoped topic and consumer group names, quiet logs, and a node TTL short enough that a killed subscriber node
 * leaves the directory within seconds.
 */
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { createKafka, ensureTopic, KafkaLogLevel } from '../common/kafka.ts';
import { createLogger } from '../common/logger.ts';
import { type Pipeline, type StartPipelineOptions, startPipeline } from '../infra/local/pipeline-services.ts';

/** Options of {@link startTestPipeline}. */
export interface TestPipelineOptions
  extends Pick<StartPipelineOptions, 'ingestEnv' | 'fanoutEnv' | 'restart' | 'engine'> {
  /** Names the topics (`<name>.reactions.<run>`, …) and the Kafka client id (`<name>-setup`). */
  name: string;
  /** Scopes topics and consumer groups to this run. @default 8 random hex digits */
  run?: string;
  /** @default { reactions: 3, aggregates: 2 } */
  partitions?: { reactions: number; aggregates: number };
}

/** A started test pipeline and the names it runs on. */
export interface TestPipeline {
  pipeline: Pipeline;
  run: string;
  kafkaBrokers: string;
  topics: { reactions: string; aggregates: string; fanoutPrefix: string };
}

/** Creates the run's topics, then starts the pipeline on them; `pipeline.stop()` stops it. */
export async function startTestPipeline(options: TestPipelineOptions): Promise<TestPipeline> {
  const run = options.run ?? randomUUID().slice(0, 8);
  const { name } = options;
  const topics = {
    reactions: `${name}.reactions.${run}`,
    aggregates: `${name}.aggregates.${run}`,
    fanoutPrefix: `${name}.fanout.${run}`,
  };
  const partitions = options.partitions ?? { reactions: 3, aggregates: 2 };
  const kafkaBrokers = inject('kafkaBrokers');
  const kafka = createKafka({
    clientId: `${name}-setup`,
    brokers: kafkaBrokers,
    logger: createLogger(`${name}-setup`),
    logLevel: KafkaLogLevel.ERROR,
  });
  await ensureTopic(kafka, [
    { topic: topics.reactions, partitions: partitions.reactions },
    { topic: topics.aggregates, partitions: partitions.aggregates },
  ]);
  const pipeline = await startPipeline({
    kafkaBrokers,
    registryUrl: inject('registryUrl'),
    topics,
    groupSuffix: run,
    ...(options.restart === undefined ? {} : { restart: options.restart }),
    ...(options.engine ? { engine: options.engine } : {}),
    ingestEnv: { LOG_LEVEL: 'warn', ...options.ingestEnv },
    fanoutEnv: { FANOUT_NODE_TTL_MS: '3000', LOG_LEVEL: 'warn', ...options.fanoutEnv },
  });
  return { pipeline, run, kafkaBrokers, topics };
}
