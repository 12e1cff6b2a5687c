/**
 * The error model of ingest's send path, after kafkajs (`src/errors.js`, `src/protocol/error.js`): an error keeps
 * its `name` (the kafkajs class, e.g. `KafkaJSProtocolError`), `message`, `retriable`, the protocol `type`/`code`
 * and its `cause` chain. The producer runs in a worker thread, so errors cross it as a plain
 * {@link SerializedError} and are rebuilt on the main side as a typed {@link KafkaSendError}.
 *
 * {@link classifySendError} says what the buffer does with a failed send:
 * - `retry`: retriable errors and refusals an operator can fix (broker down, timeout, topic missing,
 *   authorization, not enough replicas, retries exhausted…) are retried with backoff for as long as ingest runs;
 * - `split`: the broker refused the records themselves (too large, invalid): retrying the same batch can never
 *   succeed, so the batch is halved until the records refused on their own are isolated (dead letters).
 */

/** An error as it crosses the worker thread (structured-clone safe, bounded depth). */
export interface SerializedError {
  name: string;
  message: string;
  /** kafkajs' flag; absent when the error did not say. */
  retriable?: boolean;
  /** kafkajs protocol error type, e.g. `MESSAGE_TOO_LARGE`. */
  type?: string;
  /** Kafka protocol error code (number) or system error code (string, e.g. `ECONNREFUSED`). */
  code?: number | string;
  cause?: SerializedError;
}

/** Deepest cause chain kept; kafkajs nests two or three levels, a loop must not recurse forever. */
const MAX_CAUSE_DEPTH = 8;

/** kafkajs' protocol error types that refuse the records themselves: retrying them unchanged never succeeds. */
export const RECORD_REFUSALS: ReadonlySet<string> = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'INVALID_TIMESTAMP',
]);

/** Any thrown value → its serialisable shape (name, message, retriable, type, code, cause chain). */
export function serializeError(err: unknown, depth = 0): SerializedError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const e = err as Error & { retriable?: unknown; type?: unknown; code?: unknown };
  const out: SerializedError = { name: e.name, message: e.message };
  if (typeof e.retriable === 'boolean') out.retriable = e.retriable;
  if (typeof e.type === 'string') out.type = e.type;
  if (typeof e.code === 'number' || typeof e.code === 'string') out.code = e.code;
  // kafkajs' KafkaJSNonRetriableError and KafkaJSNumberOfRetriesExceeded set `cause` to the error they wrap,
  // sometimes themselves; a self-reference or an over-deep chain is cut.
  if (e.cause !== undefined && e.cause !== err && depth < MAX_CAUSE_DEPTH) {
    out.cause = serializeError(e.cause, depth + 1);
  }
  return out;
}

/** A send failure rebuilt from its {@link SerializedError}: same name, message, flags and cause chain. */
export class KafkaSendError extends Error {
  readonly retriable: boolean | undefined;
  readonly type: string | undefined;
  readonly code: number | string | undefined;

  constructor(s: SerializedError) {
    super(s.message, s.cause ? { cause: new KafkaSendError(s.cause) } : undefined);
    this.name = s.name;
    this.retriable = s.retriable;
    this.type = s.type;
    this.code = s.code;
  }

  /** The shape this error was made from. */
  toJSON(): SerializedError {
    return serializeError(this);
  }
}

/** Rebuilds a typed error from what crossed the thread. */
export function reviveError(s: SerializedError): KafkaSendError {
  return new KafkaSendError(s);
}

/** What the buffer does with a failed send. */
export type SendErrorClass = 'retry' | 'split';

/** The protocol error type of `err` or of the first error in its cause chain that has one. */
export function protocolType(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth <= MAX_CAUSE_DEPTH; depth++) {
    const type = (e as { type?: unknown }).type;
    if (typeof type === 'string') return type;
    if (e.cause === e) break;
    e = e.cause;
  }
  return undefined;
}

/**
 * `split` when the broker refused the records themselves ({@link RECORD_REFUSALS} anywhere in the cause chain),
 * else `retry`. Retrying is the default because it loses nothing: an unknown failure is held, not thrown away.
 */
export function classifySendError(err: unknown): SendErrorClass {
  const type = protocolType(err);
  return type !== undefined && RECORD_REFUSALS.has(type) ? 'split' : 'retry';
}

/** What an operator does about a record refused on its own, by protocol type (for the dead-letter log line). */
export function deadLetterAdvice(type: string | undefined): string {
  switch (type) {
    case 'MESSAGE_TOO_LARGE':
    case 'RECORD_LIST_TOO_LARGE':
      return "the record is larger than the topic accepts: raise the topic's max.message.bytes (and the broker's message.max.bytes) or keep reactions smaller, then replay the dead-letter file";
    case 'INVALID_TIMESTAMP':
      return "the record's timestamp is outside the topic's message.timestamp.*.max.ms: check the ingest host's clock or the topic config, then replay the dead-letter file";
    default:
      return "the broker refused the record as invalid: check the topic's config (e.g. cleanup.policy=compact needs keys) and the broker log, then replay the dead-letter file";
  }
}

/**
 * A send in which some records were written and some were not: `failures` lists, per refused group (one Kafka
 * partition each), the indices into the sent records and why. Records in no failure were acknowledged by Kafka.
 */
export class PartialSendError extends Error {
  override readonly name = 'PartialSendError';
  constructor(readonly failures: readonly { indices: ArrayLike<number>; error: Error }[]) {
    const first = failures[0]?.error;
    super(
      `${failures.length} partition group${failures.length === 1 ? '' : 's'} not written${first ? `: ${first.message}` : ''}`,
      { cause: first },
    );
  }
}
