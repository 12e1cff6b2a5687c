/**
 * What happens to an accepted body, independent of the HTTP framework: validate, rate-limit, stamp (event id,
 * ingest time), encode as registry-framed Avro and hand to the buffer. Returns the answer to send; refusals are
 * thrown as HttpProblem.
 */
import { randomUUID } from 'node:crypto';
import type { FieldProblem } from '../common/problem.ts';
import type { RateLimiter } from '../common/rate-limiter.ts';
import type { ReactionRecord } from '../common/records.ts';
import { type Limiter, problems } from './errors.ts';
import type { IngestMetrics } from './metrics.ts';
import {
  BufferClosedError,
  type OutboundRecord,
  type ReactionBuffer,
  RecordNotStoredError,
} from './reaction-buffer.ts';
import type { ReactionValidator, ValidReaction } from './reaction-validator.ts';

/** A successful answer: status and JSON text. */
export interface IntakeAnswer {
  status: number;
  body: string;
}

/** Per-item result of a batch. */
export type BatchItemResult =
  | { status: 202 | 200; event_id: string }
  | { status: 400; errors: FieldProblem[] }
  | { status: 429; retry_after: number };

export interface ReactionIntakeDeps {
  validator: ReactionValidator;
  /** Per user: keyed on the body's user id, which with auth on must be the token's subject. */
  limiter: RateLimiter;
  /** Per match flood guard (allows everything when its rate is 0). */
  matchLimiter?: RateLimiter;
  /** True with auth on: the user limiter's metric label is `subject`. */
  authenticated?: boolean;
  buffer: ReactionBuffer;
  encode: (record: ReactionRecord) => Buffer;
  metrics: IngestMetrics;
  /** Server clock, epoch ms. */
  now: () => number;
}

/** A record's request item (index into the batch's `reactions`, 0 for a single reaction) and event id. */
interface ItemRef {
  index: number;
  event_id: string;
}

/** Retry-After for a full buffer: about one flush cycle, never less than a second (the header's unit). */
const BUFFER_FULL_RETRY_SEC = 1;

export class ReactionIntake {
  constructor(private readonly deps: ReactionIntakeDeps) {}

  private get userLimiter(): Limiter {
    return this.deps.authenticated ? 'subject' : 'user';
  }

  /**
   * `POST /v1/reactions` and the seed-compatible `POST /emoji`. `subject`: the token's user (auth on); a body
   * naming another user is refused 403.
   */
  async single(
    body: unknown,
    kind: 'emoji' | 'reactions',
    durable: boolean,
    subject?: string,
  ): Promise<IntakeAnswer> {
    const { validator, limiter, metrics } = this.deps;
    const r = kind === 'emoji' ? validator.seed(body) : validator.reaction(body);
    if (!r.ok) throw problems.validation(r.problems);
    if (subject !== undefined && r.value.user_id !== subject) throw problems.wrongUser('user_id');
    const rate = limiter.take(r.value.user_id);
    if (!rate.ok) {
      metrics.limited(this.userLimiter);
      throw problems.rateLimited(rate.retryAfterSec, this.userLimiter);
    }
    const flood = this.deps.matchLimiter?.take(r.value.match_id);
    if (flood !== undefined && !flood.ok) {
      metrics.limited('match');
      throw problems.rateLimited(flood.retryAfterSec, 'match');
    }
    const eventId = randomUUID();
    const record = this.stamp(r.value, eventId, this.deps.now());
    await this.enqueue([{ key: record.user_id, value: this.deps.encode(record) }], durable, [
      { index: 0, event_id: eventId },
    ]);
    metrics.accepted(kind, 1);
    if (kind === 'emoji')
      return { status: 200, body: `{"status":"Emoji received","message_id":"${eventId}"}` };
    return durable
      ? { status: 200, body: `{"status":"stored","event_id":"${eventId}"}` }
      : { status: 202, body: `{"status":"accepted","event_id":"${eventId}"}` };
  }

  /**
   * `POST /v1/reactions:batch`: valid, in-limit items are accepted together (all or none towards the buffer);
   * the answer lists a result per item. When no item is accepted the whole request is refused with the reason
   * (400 naming every bad field, or 429).
   */
  async batch(body: unknown, durable: boolean, subject?: string): Promise<IntakeAnswer> {
    const { validator, limiter, metrics } = this.deps;
    const v = validator.batch(body);
    if (!v.ok) throw problems.validation(v.problems);
    const items = v.items;
    if (subject !== undefined) {
      // All or nothing: a batch that reacts as anyone else is refused whole, before any bucket is touched.
      const other = items.findIndex((item) => item.ok && item.value.user_id !== subject);
      if (other >= 0) throw problems.wrongUser(`reactions[${other}].user_id`);
    }
    let limiterHit: Limiter = this.userLimiter;
    const results = new Array<BatchItemResult>(items.length);
    const records: OutboundRecord[] = [];
    const refs: ItemRef[] = [];
    const okStatus = durable ? 200 : 202;
    const ingestTs = this.deps.now();
    let invalid = 0;
    let limited = 0;
    let maxRetry = 0;
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as (typeof items)[number];
      if (!item.ok) {
        invalid++;
        results[i] = { status: 400, errors: item.problems };
        continue;
      }
      let rate = limiter.take(item.value.user_id);
      if (rate.ok) {
        rate = this.deps.matchLimiter?.take(item.value.match_id) ?? rate;
        if (!rate.ok) {
          limiterHit = 'match';
          metrics.limited('match');
        }
      } else metrics.limited(this.userLimiter);
      if (!rate.ok) {
        limited++;
        if (rate.retryAfterSec > maxRetry) maxRetry = rate.retryAfterSec;
        results[i] = { status: 429, retry_after: rate.retryAfterSec };
        continue;
      }
      const eventId = randomUUID();
      const record = this.stamp(item.value, eventId, ingestTs);
      records.push({ key: record.user_id, value: this.deps.encode(record) });
      refs.push({ index: i, event_id: eventId });
      results[i] = { status: okStatus, event_id: eventId };
    }
    if (invalid > 0) metrics.rejected('validation', invalid);
    if (limited > 0) metrics.rejected('rate-limited', limited);
    if (records.length === 0) {
      if (invalid > 0) {
        throw problems.validation(results.flatMap((r) => ('errors' in r ? r.errors : [])));
      }
      throw problems.rateLimited(maxRetry, limiterHit);
    }
    await this.enqueue(records, durable, refs);
    metrics.accepted('batch', records.length);
    return {
      status: okStatus,
      // ingest_ts: the server's stamp on every accepted item (one per request), i.e. the event time the
      // aggregation windows use; a client can tell which window its reactions count in.
      body: JSON.stringify({
        accepted: records.length,
        rejected: invalid + limited,
        ingest_ts: ingestTs,
        results,
      }),
    };
  }

  private stamp(v: ValidReaction, eventId: string, ingestTs: number): ReactionRecord {
    return {
      event_id: eventId,
      match_id: v.match_id,
      user_id: v.user_id,
      emoji: v.emoji,
      client_ts: v.client_ts,
      ingest_ts: ingestTs,
    };
  }

  /** `refs[i]` names `records[i]` (request item and event id) in the problem when Kafka refuses some of them. */
  private async enqueue(records: OutboundRecord[], durable: boolean, refs: ItemRef[]): Promise<void> {
    const added = this.deps.buffer.add(records, durable);
    if (!added.accepted) {
      throw added.reason === 'full' ? problems.bufferFull(BUFFER_FULL_RETRY_SEC) : problems.shuttingDown();
    }
    if (added.acked !== undefined) {
      try {
        await added.acked;
      } catch (err) {
        if (err instanceof BufferClosedError) throw problems.notDelivered(err.message);
        if (err instanceof RecordNotStoredError) {
          const refused = new Set(err.refused.map((r) => r.record));
          const notStored = refs.filter((_, i) => refused.has(records[i] as OutboundRecord));
          const stored = records.length - notStored.length;
          throw problems.reactionNotStored(
            `${err.message}${records.length > 1 ? ` (${stored} of ${records.length} stored)` : ''}`,
            { not_stored: notStored, stored },
          );
        }
        throw err;
      }
    }
  }
}
