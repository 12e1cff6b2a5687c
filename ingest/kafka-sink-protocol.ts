/**
 * The messages between ingest's main thread and its Kafka producer thread (kafka-sink-worker.ts,
 * threaded-kafka-sink.ts), and how a failure crosses: {@link failureReply} on the worker side,
 * {@link errorOfReply} on the main side rebuild the same typed error (send-errors.ts). Kept apart from the worker
 * entry, which starts a producer when loaded in a thread.
 */
import { PartialSendError, reviveError, type SerializedError, serializeError } from './send-errors.ts';

export type WorkerRequest =
  | { id: number; op: 'connect' | 'disconnect' | 'ping' }
  | { id: number; op: 'send'; ends: Uint32Array; data: ArrayBuffer };
/** Records of one refused partition group: indices into the sent records, and why. */
export interface WorkerFailure {
  indices: Uint32Array;
  error: SerializedError;
}
export type WorkerReply =
  | { id: number; ok: true }
  | { id: number; ok: false; error: SerializedError; failures?: WorkerFailure[] };

/** The reply of a failed call: the error's serialisable shape, and per-group failures of a partial send. */
export function failureReply(id: number, err: unknown): WorkerReply {
  const reply: WorkerReply = { id, ok: false, error: serializeError(err) };
  if (err instanceof PartialSendError) {
    reply.failures = err.failures.map((f) => ({
      indices: Uint32Array.from(f.indices),
      error: serializeError(f.error),
    }));
  }
  return reply;
}

/** The typed error of a failed reply: a {@link PartialSendError} when it lists failures, else the error itself. */
export function errorOfReply(reply: Extract<WorkerReply, { ok: false }>): Error {
  if (reply.failures !== undefined) {
    return new PartialSendError(
      reply.failures.map((f) => ({ indices: f.indices, error: reviveError(f.error) })),
    );
  }
  return reviveError(reply.error);
}
