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

/** One reaction as the e2e tests post it (ingest stamps its own time; `timestamp` is the client's). */
export interface PostedReaction {
  match_id: string;
  user_id: string;
  emoji: string;
  timestamp: number;
}

/** What ingest answered to a batch: its status and JSON body. */
export interface BatchAnswer {
  status: number;
  body: { accepted: number; rejected: number; ingest_ts: number; [field: string]: unknown };
}

/**
 * Posts `reactions` as ONE `POST /v1/reactions:batch` request (so one ingest timestamp), optionally durable or
 * with a bearer token; returns the status and body for the test to assert on.
 */
export async function postBatch(
  ingestUrl: string,
  reactions: PostedReaction[],
  options: { durable?: boolean; bearer?: string } = {},
): Promise<BatchAnswer> {
  const res = await fetch(`${ingestUrl}/v1/reactions:batch${options.durable ? '?durable=true' : ''}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(options.bearer === undefined ? {} : { authorization: `Bearer ${options.bearer}` }),
    },
    body: JSON.stringify({ reactions }),
  });
  return { status: res.status, body: (await res.json()) as BatchAnswer['body'] };
}
