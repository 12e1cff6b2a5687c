/**
 * The ingest service as one object: `createIngest(config, deps)` wires validation, rate limiting, the Avro serde,
 * the buffer and the Kafka producer behind the HTTP app; `start()` registers the schema, connects and listens;
 * `stop()` stops accepting, flushes everything to Kafka and closes.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTokenVerifier } from '../common/auth.ts';
import {
  type AvroSerde,
  createAvroSerde,
  createRegistryClient,
  FRAME_HEADER_LENGTH,
  loadSchema,
  type RegistryClient,
} from '../common/avro-serde.ts';
import { createClientAddress } from '../common/client-address.ts';
import { createLogger, type Logger } from '../common/logger.ts';
import { createRateLimiter } from '../common/rate-limiter.ts';
import type { ReactionRecord } from '../common/records.ts';
import type { IngestConfig } from './config.ts';
import { createDeadLetterFile, type DeadLetterEntry } from './dead-letter-file.ts';
import { createEmojiNormalizer } from './emoji-normalizer.ts';
import { createRequestListener } from './http-app.ts';
import { createKafkaSink, type KafkaSink } from './kafka-sink.ts';
import { createIngestMetrics } from './metrics.ts';
import { type OutboundRecord, ReactionBuffer } from './reaction-buffer.ts';
import { ReactionIntake } from './reaction-intake.ts';
import { createReactionValidator } from './reaction-validator.ts';
import { createRequestGate } from './request-gate.ts';
import { deadLetterAdvice, protocolType } from './send-errors.ts';
import { createThreadedKafkaSink } from './threaded-kafka-sink.ts';

/** Collaborators of ingest; each defaults to the real thing built from the config. */
export interface IngestDeps {
  logger?: Logger;
  /** Kafka producer side (tests pass a fake for unit tests of the HTTP layer). */
  sink?: KafkaSink;
  registry?: RegistryClient;
  /** Server clock, epoch ms. */
  now?: () => number;
}

export interface Ingest {
  /** Registers the schema, connects to Kafka and listens. Resolves with the bound address. */
  start(): Promise<{ host: string; port: number }>;
  /** Stops accepting (503 to new requests), flushes the buffer to Kafka, disconnects. Idempotent. */
  stop(): Promise<void>;
  /** Records queued or in flight towards Kafka. */
  readonly bufferDepth: number;
}

/** How long a readiness probe result is reused, so /ready cannot hammer Kafka or the registry. */
const READINESS_TTL_MS = 1000;

export function createIngest(config: IngestConfig, deps: IngestDeps = {}): Ingest {
  const logger = deps.logger ?? createLogger('ingest');
  const log = logger.child({ component: 'ingest' });
  const now = deps.now ?? Date.now;
  const registry = deps.registry ?? createRegistryClient(config.schemaRegistryUrl);
  const sinkOptions = { brokers: config.kafkaBrokers, topic: config.topic, logger };
  const sink =
    deps.sink ??
    (config.producerThread === 'worker'
      ? createThreadedKafkaSink(sinkOptions)
      : createKafkaSink(sinkOptions));
  const normalizer = createEmojiNormalizer(config.emojiAllowlist, { aliases: config.emojiAliases });

  let buffer: ReactionBuffer | undefined;
  let serde: AvroSerde<ReactionRecord> | undefined;
  const metrics = createIngestMetrics(() => buffer?.depth ?? 0, config.bufferCapacity);
  const deadLetters =
    config.deadLetterDir === undefined
      ? undefined
      : createDeadLetterFile({ dir: config.deadLetterDir, maxBytes: config.deadLetterMaxBytes });

  /** A record Kafka refused on its own: to the dead-letter file, the metric and one warn line saying what to do. */
  function deadLetter(record: OutboundRecord, error: Error): void {
    const type = protocolType(error);
    let reaction: unknown = null;
    try {
      reaction = serde?.type.fromBuffer(record.value.subarray(FRAME_HEADER_LENGTH)) ?? null;
    } catch {
      // Kept as null: the size and key still say which record it was.
    }
    const entry: DeadLetterEntry = {
      time: new Date(now()).toISOString(),
      topic: config.topic,
      key: record.key,
      reaction,
      size: record.value.length,
      error: { name: error.name, type, message: error.message },
    };
    const out = deadLetters?.write(entry);
    metrics.deadLettered((type ?? 'unknown').toLowerCase());
    log.warn(
      {
        deadLetter: out?.written ? out.file : undefined,
        notWritten: out && !out.written ? out.detail : undefined,
        // Without a file (or when it is full) the log line is the only copy of the reaction.
        record: out?.written ? undefined : entry,
        key: record.key,
        size: entry.size,
        errorType: type,
        err: error,
      },
      `Kafka refused a reaction on its own (${type ?? error.name}); not retried: ${deadLetterAdvice(type)}`,
    );
  }

  buffer = new ReactionBuffer(
    sink,
    {
      capacity: config.bufferCapacity,
      maxBatch: config.maxBatchSize,
      flushIntervalMs: config.flushIntervalMs,
      maxInFlight: config.maxInFlight,
    },
    {
      flushed: (n, s) => metrics.flushed(n, s),
      sendFailed: (n, err, attempt) => {
        metrics.produceError(n);
        log.warn(
          { err, records: n, attempt },
          'Kafka send failed; what it did not write is retried or split',
        );
      },
      split: (n, err, depth) =>
        log.info(
          { records: n, depth, errorType: protocolType(err) },
          'Kafka refused a batch; sending it in halves',
        ),
      deadLettered: deadLetter,
    },
  );
  const buf = buffer;

  let encode: ((r: ReactionRecord) => Buffer) | undefined;
  const intake = new ReactionIntake({
    validator: createReactionValidator({
      normalizer,
      defaultMatchId: config.defaultMatchId,
      skewAheadMs: config.skewAheadMs,
      skewBehindMs: config.skewBehindMs,
      maxBatchItems: config.batchMaxItems,
      now,
    }),
    limiter: createRateLimiter({
      ratePerSec: config.rateLimitPerSec,
      burst: config.rateLimitBurst,
      maxKeys: config.rateLimitMaxUsers,
    }),
    matchLimiter: createRateLimiter({
      ratePerSec: config.matchRateLimitPerSec,
      burst: config.matchRateLimitBurst,
      maxKeys: config.rateLimitMaxUsers,
    }),
    authenticated: config.auth === 'jwt',
    buffer: buf,
    encode: (r) => (encode as (r: ReactionRecord) => Buffer)(r),
    metrics,
    now,
  });

  let draining = false;
  let lastReadiness:
    | { at: number; value: Promise<{ ready: boolean; checks: Record<string, unknown> }> }
    | undefined;
  async function probe(): Promise<{ ready: boolean; checks: Record<string, unknown> }> {
    const settle = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (err: unknown) => `unreachable: ${(err as Error).message}`,
      );
    const [kafka, schemaRegistry] = await Promise.all([
      settle(sink.ping()),
      settle(registry.getAllSubjects()),
    ]);
    const fill = buf.depth / buf.capacity;
    const bufferOk = fill < 0.9 && !buf.retrying;
    return {
      ready: !draining && kafka === 'ok' && schemaRegistry === 'ok' && bufferOk,
      checks: {
        kafka,
        schema_registry: schemaRegistry,
        buffer: {
          depth: buf.depth,
          capacity: buf.capacity,
          fill: Math.round(fill * 1000) / 1000,
          retrying: buf.retrying,
        },
        draining,
      },
    };
  }

  // Built once: with a JWKS, jose caches the keys in this object.
  const gate = createRequestGate({
    verifier: config.auth === 'jwt' ? createTokenVerifier(config) : undefined,
    addressLimiter: createRateLimiter({
      ratePerSec: config.addressRateLimitPerSec,
      burst: config.addressRateLimitBurst,
      maxKeys: config.addressRateLimitMaxKeys,
    }),
    clientAddress: createClientAddress(config.trustedProxies),
    metrics,
  });
  const listener = createRequestListener({
    gate,
    intake,
    metrics,
    logger,
    maxBodyBytes: config.maxBodyBytes,
    maxBatchBodyBytes: config.maxBatchBodyBytes,
    corsOrigins: config.corsOrigins,
    isDraining: () => draining,
    readiness: () => {
      const t = performance.now();
      if (lastReadiness === undefined || t - lastReadiness.at > READINESS_TTL_MS) {
        lastReadiness = { at: t, value: probe() };
      }
      return lastReadiness.value;
    },
  });

  let server: Server | undefined;
  let stopping: Promise<void> | undefined;

  return {
    get bufferDepth() {
      return buf.depth;
    },
    async start() {
      const schema = await loadSchema('reaction');
      const created = await createAvroSerde<ReactionRecord>(registry, { topic: config.topic, schema });
      serde = created;
      encode = created.encode;
      await sink.connect();
      const srv = createServer(
        { keepAliveTimeout: 65_000, headersTimeout: 20_000, requestTimeout: 60_000 },
        listener,
      );
      server = srv;
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(config.port, config.host, () => {
          srv.off('error', reject);
          resolve();
        });
      });
      const { address, port } = srv.address() as AddressInfo;
      log.info(
        {
          host: address,
          port,
          topic: config.topic,
          schemaId: created.schemaId,
          subject: created.subject,
          auth: config.auth,
        },
        'ingest listening',
      );
      return { host: address, port };
    },
    stop() {
      stopping ??= (async () => {
        draining = true;
        const srv = server;
        const closed = srv ? new Promise<void>((resolve) => srv.close(() => resolve())) : Promise.resolve();
        srv?.closeIdleConnections();
        const lost = await buf.close(config.drainTimeoutMs);
        if (lost > 0) log.error({ lost }, 'shutdown deadline passed with records not acknowledged by Kafka');
        else log.info('buffer flushed to Kafka');
        // Durable requests have been answered by now; anything still open is idle or hung.
        srv?.closeAllConnections();
        await closed;
        await sink.disconnect().catch((err: unknown) => log.warn({ err }, 'Kafka disconnect failed'));
      })();
      return stopping;
    },
  };
}
