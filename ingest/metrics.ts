/**
 * Prometheus metrics of one ingest instance, on their own registry (no global default, so several instances and
 * tests never collide). Label children are bound once: the hot path only increments.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export type Endpoint = 'emoji' | 'reactions' | 'batch';

export interface IngestMetrics {
  readonly registry: Registry;
  /** Reactions accepted into the buffer, by endpoint. */
  accepted(endpoint: Endpoint, n: number): void;
  /** Reactions or requests refused, by reason (a problem slug or a field code). */
  rejected(reason: string, n?: number): void;
  flushed(records: number, seconds: number): void;
  produceError(records: number): void;
  /** A record Kafka refused on its own, by reason (the protocol error type, lower case). */
  deadLettered(reason: string): void;
  /** Reactions or requests a rate limiter refused, by limiter (`user`, `subject`, `address`, `match`). */
  limited(limiter: string, n?: number): void;
  /** Requests refused for their credentials, by reason (e.g. `missing`, `expired`, `signature`). */
  authRefused(reason: string): void;
}

/** Creates the metrics; `bufferDepth`/`bufferCapacity` are read on scrape. */
export function createIngestMetrics(bufferDepth: () => number, bufferCapacity: number): IngestMetrics {
  const registry = new Registry();
  const accepted = new Counter({
    name: 'ingest_reactions_accepted_total',
    help: 'Reactions accepted into the Kafka buffer',
    labelNames: ['endpoint'] as const,
    registers: [registry],
  });
  const rejected = new Counter({
    name: 'ingest_reactions_rejected_total',
    help: 'Reactions or requests refused, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'ingest_buffer_depth',
    help: 'Records queued or in flight towards Kafka',
    registers: [registry],
    collect() {
      this.set(bufferDepth());
    },
  });
  new Gauge({
    name: 'ingest_buffer_capacity',
    help: 'Most records the buffer holds before answering 503',
    registers: [registry],
    collect() {
      this.set(bufferCapacity);
    },
  });
  const flushSize = new Histogram({
    name: 'ingest_flush_records',
    help: 'Records per Kafka send',
    buckets: [1, 10, 50, 100, 500, 1000, 2000, 5000, 10000],
    registers: [registry],
  });
  const flushSeconds = new Histogram({
    name: 'ingest_flush_duration_seconds',
    help: 'Time from send to acknowledgement by all in-sync replicas',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const produceErrors = new Counter({
    name: 'ingest_produce_errors_total',
    help: 'Failed Kafka sends (each is retried)',
    registers: [registry],
  });
  const produceErrorRecords = new Counter({
    name: 'ingest_produce_error_records_total',
    help: 'Records in failed Kafka sends (each is retried)',
    registers: [registry],
  });

  const deadLetters = new Counter({
    name: 'emostream_ingest_dead_letters_total',
    help: 'Records Kafka refused on their own (not retried; see the dead-letter file), by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });

  const limitedTotal = new Counter({
    name: 'emostream_ingest_rate_limited_total',
    help: 'Reactions (or, for the address limiter, requests) refused 429, by limiter',
    labelNames: ['limiter'] as const,
    registers: [registry],
  });
  const authRefused = new Counter({
    name: 'emostream_ingest_auth_refused_total',
    help: 'Requests refused for their credentials (401, 400 token in the URL), by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });

  const acceptedBy = {
    emoji: accepted.labels('emoji'),
    reactions: accepted.labels('reactions'),
    batch: accepted.labels('batch'),
  };
  const rejectedBy = new Map<string, Counter.Internal>();

  return {
    registry,
    accepted(endpoint, n) {
      acceptedBy[endpoint].inc(n);
    },
    rejected(reason, n = 1) {
      let c = rejectedBy.get(reason);
      if (c === undefined) {
        c = rejected.labels(reason);
        rejectedBy.set(reason, c);
      }
      c.inc(n);
    },
    flushed(records, seconds) {
      flushSize.observe(records);
      flushSeconds.observe(seconds);
    },
    limited(limiter, n = 1) {
      // Label values come from a closed set in code (the limiters), never from a request.
      limitedTotal.labels(limiter).inc(n);
    },
    authRefused(reason) {
      authRefused.labels(reason).inc();
    },
    deadLettered(reason) {
      deadLetters.labels(reason).inc();
    },
    produceError(records) {
      produceErrors.inc();
      produceErrorRecords.inc(records);
    },
  };
}
