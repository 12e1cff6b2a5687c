import { createRequire } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
import { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { errorOfReply, failureReply, type WorkerReply } from './kafka-sink-protocol.ts';
import {
  classifySendError,
  KafkaSendError,
  PartialSendError,
  protocolType,
  reviveError,
  serializeError,
} from './send-errors.ts';

// The very errors kafkajs raises from a produce response (protocol/error.js), not look-alikes.
const require = createRequire(import.meta.url);
const { createErrorFromCode } = require('kafkajs/src/protocol/error') as {
  createErrorFromCode(code: number): Error & { type: string; retriable: boolean };
};
const MESSAGE_TOO_LARGE = 10;
const RECORD_LIST_TOO_LARGE = 18;
const NOT_ENOUGH_REPLICAS = 19;
const UNKNOWN_TOPIC_OR_PARTITION = 3;
const TOPIC_AUTHORIZATION_FAILED = 29;
const INVALID_RECORD = 87;

/** What kafkajs' retrier does to a non-retriable error in some paths (retry/index.js); its typings omit `cause`. */
const wrapNonRetriable = (e: Error) =>
  new (KafkaJSNonRetriableError as unknown as new (e: Error, o: { cause: Error }) => Error)(e, { cause: e });

/** What kafkajs' retrier makes of a retriable error once its retries are spent. */
const exhausted = (e: Error) => new KafkaJSNumberOfRetriesExceeded(e, { retryCount: 5, retryTime: 2000 });

/** A real postMessage between threads' ports: the structured clone a worker reply goes through. */
function acrossThreads(reply: WorkerReply): Promise<WorkerReply> {
  const { port1, port2 } = new MessageChannel();
  return new Promise((resolve) => {
    port2.once('message', (m: WorkerReply) => {
      port1.close();
      resolve(m);
    });
    port1.postMessage(reply);
  });
}

describe('send error classification', () => {
  it('splits what the broker refuses as records: too large, record list too large, invalid record', () => {
    for (const code of [MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE, INVALID_RECORD]) {
      const e = createErrorFromCode(code);
      expect(classifySendError(e), e.type).toBe('split');
      // kafkajs' retrier wraps a non-retriable error before bailing out in some paths.
      expect(classifySendError(wrapNonRetriable(e)), e.type).toBe('split');
    }
  });

  it('retries retriable errors and refusals an operator can fix, also once kafkajs gave up on them', () => {
    const cases: Error[] = [
      createErrorFromCode(NOT_ENOUGH_REPLICAS),
      createErrorFromCode(UNKNOWN_TOPIC_OR_PARTITION),
      createErrorFromCode(TOPIC_AUTHORIZATION_FAILED),
      exhausted(createErrorFromCode(NOT_ENOUGH_REPLICAS)),
      exhausted(
        new KafkaJSConnectionError('Connection error: connect ECONNREFUSED', { code: 'ECONNREFUSED' }),
      ),
      new Error('Kafka producer thread exited with code 1'),
    ];
    for (const e of cases) expect(classifySendError(e), e.message).toBe('retry');
  });
});

describe('send errors across the worker thread', () => {
  it('keep name, message, retriable, type, code and the cause chain', async () => {
    const cause = createErrorFromCode(NOT_ENOUGH_REPLICAS);
    const err = exhausted(cause);
    const back = errorOfReply(
      (await acrossThreads(failureReply(7, err))) as Extract<WorkerReply, { ok: false }>,
    );
    expect(back).toBeInstanceOf(KafkaSendError);
    expect(back).toMatchObject({
      name: 'KafkaJSNumberOfRetriesExceeded',
      message: err.message,
      retriable: false,
    });
    expect(back.cause).toBeInstanceOf(KafkaSendError);
    expect(back.cause).toMatchObject({
      name: 'KafkaJSProtocolError',
      type: 'NOT_ENOUGH_REPLICAS',
      code: NOT_ENOUGH_REPLICAS,
      retriable: true,
    });
    expect(classifySendError(back)).toBe('retry');
    expect(serializeError(back)).toEqual(serializeError(err));
  });

  it('a partial send keeps, per refused group, the record indices and the typed error', async () => {
    const partial = new PartialSendError([
      { indices: [0, 3], error: createErrorFromCode(MESSAGE_TOO_LARGE) },
      { indices: [2], error: createErrorFromCode(NOT_ENOUGH_REPLICAS) },
    ]);
    const back = errorOfReply(
      (await acrossThreads(failureReply(1, partial))) as Extract<WorkerReply, { ok: false }>,
    );
    expect(back).toBeInstanceOf(PartialSendError);
    const failures = (back as PartialSendError).failures;
    expect(failures.map((f) => Array.from(f.indices))).toEqual([[0, 3], [2]]);
    expect(failures.map((f) => protocolType(f.error))).toEqual(['MESSAGE_TOO_LARGE', 'NOT_ENOUGH_REPLICAS']);
    expect(failures.map((f) => classifySendError(f.error))).toEqual(['split', 'retry']);
  });

  it('bounds a cause loop and keeps non-Error throws as messages', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    let depth = 0;
    for (let s = serializeError(a); s.cause; s = s.cause) depth++;
    expect(depth).toBeLessThanOrEqual(8);
    expect(reviveError(serializeError('boom'))).toMatchObject({ name: 'Error', message: 'boom' });
  });
});
