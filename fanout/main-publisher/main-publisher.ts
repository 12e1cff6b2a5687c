/**
 * The main publisher: the only reader of the aggregates topic in the fan-out.
 *
 * - Decodes each aggregate row once, folds the rows of a poll batch into {@link WindowStore} and turns every
 *   (match, window) that changed into ONE message carrying the window's full state.
 * - Routes that message to the clusters whose subscriber nodes have viewers of the match: one Kafka topic per
 *   cluster (`<prefix>.<cluster id>`, created with an explicit partition count, key = match id so a match's
 *   windows stay ordered). A topic per cluster lets each cluster publisher read only what its nodes need;
 *   a single shared topic would make every cluster read, decode and drop every other cluster's traffic.
 * - Serves the directory (`GET /v1/assign`, node heartbeats) and the snapshots nodes fetch when their first
 *   viewer of a match joins (`GET /v1/matches/:match_id/windows`).
 */
import type { Admin, Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
import { Partitioners } from 'kafkajs';
import { LRUCache } from 'lru-cache';
import {
  type AvroSerde,
  createAvroSerde,
  createRegistryClient,
  loadSchema,
  type RegistryClient,
} from '../../common/avro-serde.ts';
import { createKafka, ensureTopic } from '../../common/kafka.ts';
import { createLogger, type Logger } from '../../common/logger.ts';
import type { AggregateRow } from '../../common/records.ts';
import type { SwarmWindow } from '../../common/socket-events.ts';
import { clusterTopic, type MainPublisherConfig } from '../config.ts';
import { createFanoutMetrics, type FanoutService } from '../http-server.ts';
import { FANOUT_CONSUMER_GROUP, FANOUT_KAFKA_RETRY, replayOnFirstJoin } from '../kafka.ts';
import { Directory, type NodeReport } from './directory.ts';
import { createDirectoryServer } from './directory-server.ts';
import { type TimedAggregateRow, WindowStore } from './window-store.ts';

/** Dependencies of {@link createMainPublisher}; all optional. */
export interface MainPublisherDeps {
  logger?: Logger;
  registry?: RegistryClient;
  kafka?: Kafka;
  now?: () => number;
}

/** A running main publisher. */
export interface MainPublisher extends FanoutService {
  readonly directory: Directory;
}

/** Creates the main publisher; nothing connects before `start()`. */
export function createMainPublisher(
  config: MainPublisherConfig,
  deps: MainPublisherDeps = {},
): MainPublisher {
  const logger = deps.logger ?? createLogger('fanout-main');
  const now = deps.now ?? Date.now;
  const metrics = createFanoutMetrics(
    'main-publisher',
    'Seconds from the aggregate row on Kafka (its record timestamp, aggregated_at; emitted_at when absent) to its ' +
      'window routed to the clusters: this tier alone, not the job micro-batch before it.',
  );
  const directory = new Directory({ ttlMs: config.nodeTtlMs, now });
  const store = new WindowStore({ windowsPerMatch: config.windowsKept, maxMatches: config.maxMatches });
  const kafka =
    deps.kafka ??
    createKafka({
      clientId: 'emostream-fanout-main',
      brokers: config.kafkaBrokers,
      logger,
      retry: FANOUT_KAFKA_RETRY,
    });

  let admin: Admin | undefined;
  let producer: Producer | undefined;
  let consumer: Consumer | undefined;
  let consuming = false;
  let stopping = false;
  let aggregateSerde: AvroSerde<AggregateRow> | undefined;
  let registry: RegistryClient | undefined;
  let swarmSchema = '';
  /**
   * (cluster, match) routes this process has already brought up to date. A route this process has not seen yet
   * gets the match's kept windows sent once (see catchUp); bounded, and forgotten after a few node TTLs without a
   * report naming it, so a route that comes back later is caught up again.
   */
  const caughtUp = new LRUCache<string, true>({
    max: config.maxMatches * 4,
    ttl: config.nodeTtlMs * 3,
    updateAgeOnGet: true,
  });
  /** Per-cluster topic → its serde, created (topic and subject) on first use. */
  const clusterSerdes = new Map<string, Promise<AvroSerde<SwarmWindow>>>();

  function serdeFor(clusterId: string): Promise<AvroSerde<SwarmWindow>> {
    const topic = clusterTopic(config.topicPrefix, clusterId);
    let entry = clusterSerdes.get(topic);
    if (entry === undefined) {
      entry = (async () => {
        if (admin === undefined || registry === undefined) throw new Error('not started');
        await ensureTopic(admin, { topic, partitions: config.topicPartitions });
        return createAvroSerde<SwarmWindow>(registry, { topic, schema: swarmSchema });
      })();
      entry.catch(() => clusterSerdes.delete(topic)); // retry on the next batch
      clusterSerdes.set(topic, entry);
    }
    return entry;
  }

  async function route(windows: Omit<SwarmWindow, 'routed_at'>[]): Promise<void> {
    if (windows.length === 0 || producer === undefined) return;
    const routes = directory.routes();
    const byTopic = new Map<string, { key: string; value: Buffer }[]>();
    const routedAt = now();
    for (const window of windows) {
      const clusters = routes.get(window.match_id);
      if (clusters === undefined) continue;
      const message: SwarmWindow = { ...window, routed_at: routedAt };
      for (const clusterId of clusters) {
        const serde = await serdeFor(clusterId);
        const topic = clusterTopic(config.topicPrefix, clusterId);
        let list = byTopic.get(topic);
        if (list === undefined) {
          list = [];
          byTopic.set(topic, list);
        }
        list.push({ key: window.match_id, value: serde.encode(message) });
      }
      // This tier's own hop, as every other tier's histogram is: from the row on Kafka. emitted_at is the micro-batch's
      // start, so it would add the job's batch (npm run load shows that hop apart).
      metrics.emitLatency.observe(Math.max(0, routedAt - (window.aggregated_at ?? window.emitted_at)) / 1000);
    }
    if (byTopic.size === 0) return;
    await producer.sendBatch({
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      acks: -1,
    });
    for (const list of byTopic.values()) metrics.messagesOut.inc({ kind: 'swarm' }, list.length);
  }

  /**
   * Sends the kept windows of `matchIds` to one cluster. Windows are routed only to clusters with viewers of the
   * match; a restarted main publisher replays its recent rows before any node has reported (the directory lives
   * in memory), so without this the windows of its downtime would reach no viewer whose node stayed up. A repeat
   * of a state a node already holds is dropped there (common/window-state.ts), so catching up is harmless.
   */
  async function catchUp(clusterId: string, matchIds: string[]): Promise<void> {
    if (producer === undefined) return;
    const windows = matchIds.flatMap((m) => store.snapshot(m));
    if (windows.length === 0) return;
    const serde = await serdeFor(clusterId);
    const routedAt = now();
    const messages = windows.map((w) => ({
      key: w.match_id,
      value: serde.encode({ ...w, routed_at: routedAt }),
    }));
    await producer.send({ topic: clusterTopic(config.topicPrefix, clusterId), messages, acks: -1 });
    metrics.messagesOut.inc({ kind: 'catch_up' }, messages.length);
  }

  function onNodeReport(report: NodeReport): void {
    serdeFor(report.cluster_id).catch((err: unknown) =>
      logger.warn({ err, cluster: report.cluster_id }, 'cannot prepare cluster topic'),
    );
    // Before the producer is up nothing can be sent; the report after it catches up.
    if (producer === undefined) return;
    const fresh: string[] = [];
    for (const matchId of report.matches) {
      const key = `${report.cluster_id}\u0000${matchId}`;
      if (caughtUp.get(key)) continue;
      caughtUp.set(key, true);
      fresh.push(matchId);
    }
    if (fresh.length === 0) return;
    catchUp(report.cluster_id, fresh).catch((err: unknown) => {
      for (const matchId of fresh) caughtUp.delete(`${report.cluster_id}\u0000${matchId}`);
      logger.warn(
        { err, cluster: report.cluster_id },
        'catch-up of new routes failed; retried on the next report',
      );
    });
  }

  async function onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload) {
    if (aggregateSerde === undefined) return;
    const rows: TimedAggregateRow[] = [];
    for (const message of batch.messages) {
      if (message.value === null) continue;
      try {
        const row: TimedAggregateRow = await aggregateSerde.deserialize(message.value);
        // The record's timestamp: when the job's sink wrote the row (a hop of the trace viewers can read).
        const writtenAt = Number(message.timestamp);
        if (Number.isFinite(writtenAt) && writtenAt > 0) row.aggregated_at = writtenAt;
        rows.push(row);
      } catch (err) {
        metrics.refused.inc({ code: 'undecodable_row' });
        logger.warn(
          { err, partition: batch.partition, offset: message.offset },
          'undecodable aggregate row skipped',
        );
      }
    }
    metrics.messagesIn.inc({ kind: 'aggregate_row' }, rows.length);
    const result = store.apply(rows);
    metrics.refused.inc({ code: 'row_unchanged' }, result.unchanged);
    metrics.refused.inc({ code: 'row_out_of_bounds' }, result.dropped);
    metrics.rooms.set(store.matchCount);
    if (!isRunning() || isStale()) return;
    // Routing failures throw: kafkajs retries the batch, so a window is never skipped silently.
    await route(result.changed);
    const last = batch.messages.at(-1);
    if (last !== undefined) resolveOffset(last.offset);
    await heartbeat();
  }

  const http = createDirectoryServer({
    host: config.host,
    port: config.port,
    directory,
    metrics,
    ready: () => consuming && !stopping,
    corsOrigins: config.corsOrigins,
    snapshot: (matchId) => {
      const routedAt = now();
      return store.snapshot(matchId).map((w) => ({ ...w, routed_at: routedAt, sent_at: routedAt }));
    },
    // Creates the cluster's topic and subject ahead of its first message, off the request path, and catches
    // up routes this process has not served yet.
    onReport: onNodeReport,
  });

  return {
    get url() {
      return http.url;
    },
    get ready() {
      return consuming && !stopping;
    },
    directory,
    metrics,
    async start() {
      registry = deps.registry ?? createRegistryClient(config.registryUrl);
      swarmSchema = await loadSchema('swarm-update');
      aggregateSerde = await createAvroSerde<AggregateRow>(registry, {
        topic: config.aggregatesTopic,
        schema: await loadSchema('aggregate'),
      });
      admin = kafka.admin();
      await admin.connect();
      await ensureTopic(admin, { topic: config.aggregatesTopic, partitions: config.topicPartitions });
      producer = kafka.producer({
        createPartitioner: Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: false,
      });
      await producer.connect();
      consumer = kafka.consumer({
        groupId: config.groupId,
        allowAutoTopicCreation: false,
        ...FANOUT_CONSUMER_GROUP,
      });
      await consumer.connect();
      await consumer.subscribe({ topic: config.aggregatesTopic, fromBeginning: false });
      replayOnFirstJoin(
        consumer,
        admin,
        config.aggregatesTopic,
        () => now() - config.replayMs,
        logger,
        () => {
          consuming = true;
        },
      );
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        // kafkajs restarts the consumer after retriable errors; otherwise this tier is no longer ready.
        if (!payload.restart) {
          consuming = false;
          logger.error({ err: payload.error }, 'consumer stopped after a non-retriable error');
        }
      });
      await consumer.run({ eachBatch: onBatch, eachBatchAutoResolve: false });
      await http.start();
      logger.info({ url: http.url, topic: config.aggregatesTopic }, 'main publisher listening');
    },
    async stop() {
      stopping = true;
      await http.stop();
      await consumer?.disconnect();
      await producer?.disconnect();
      await admin?.disconnect();
      logger.info('main publisher stopped');
    },
  };
}
