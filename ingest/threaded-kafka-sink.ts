/**
 * A {@link KafkaSink} whose kafkajs producer runs in a worker thread (see kafka-sink-worker.ts). Each send packs the
 * chunk's keys and values into one transferable buffer (one copy, no per-record structured clone). If the worker dies, the
 * calls in flight fail — the buffer retries them, so nothing accepted is lost — and the next call starts a new
 * worker and reconnects it.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../common/logger.ts';
import type { KafkaSink, KafkaSinkOptions } from './kafka-sink.ts';
import { errorOfReply, type WorkerReply, type WorkerRequest } from './kafka-sink-protocol.ts';
import type { WorkerSinkOptions } from './kafka-sink-worker.ts';
import type { OutboundRecord } from './reaction-buffer.ts';

/**
 * The URL of the worker's own bundle, defined by the service build (infra/local/service-build.ts) in the bundle of
 * ingest; undeclared when running from source, where the bootstrap registers tsx in the thread first.
 */
declare const EMOSTREAM_KAFKA_WORKER_BUNDLE: string | undefined;
const WORKER_ENTRY =
  typeof EMOSTREAM_KAFKA_WORKER_BUNDLE === 'string'
    ? new URL(EMOSTREAM_KAFKA_WORKER_BUNDLE)
    : new URL('./kafka-sink-worker-bootstrap.mjs', import.meta.url);

type Pending = { resolve(): void; reject(err: Error): void };

export function createThreadedKafkaSink(options: KafkaSinkOptions): KafkaSink {
  const log: Logger = options.logger.child({ component: 'kafka-thread' });
  const { logger: _logger, ...rest } = options;
  const workerOptions: WorkerSinkOptions = { ...rest, logLevel: options.logger.level };
  let worker: Worker | undefined;
  let connected = false;
  let stopped = false;
  let nextId = 1;
  const pending = new Map<number, Pending>();

  function failAll(err: Error): void {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  }

  function spawn(): Worker {
    const w = new Worker(WORKER_ENTRY, { workerData: workerOptions });
    w.on('message', (reply: WorkerReply) => {
      const p = pending.get(reply.id);
      if (p === undefined) return;
      pending.delete(reply.id);
      if (reply.ok) p.resolve();
      else p.reject(errorOfReply(reply));
    });
    let crash: Error | undefined;
    w.on('error', (err) => {
      crash = err;
      log.error({ err }, 'Kafka producer thread failed');
    });
    w.on('exit', (code) => {
      if (worker === w) worker = undefined;
      if (!stopped) log.warn({ code }, 'Kafka producer thread exited; a new one starts on the next send');
      failAll(
        new Error(`Kafka producer thread exited with code ${code}${crash ? `: ${crash.message}` : ''}`),
      );
    });
    return w;
  }

  type Request = WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never;

  function call(req: Request, transfer: ArrayBuffer[] = []): Promise<void> {
    worker ??= spawn();
    const w = worker;
    const id = nextId++;
    return new Promise<void>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      w.postMessage({ ...req, id }, transfer);
    });
  }

  async function ensureConnected(): Promise<void> {
    if (worker !== undefined && connected) return;
    connected = false;
    await call({ op: 'connect' });
    connected = true;
  }

  return {
    async connect() {
      stopped = false;
      await ensureConnected();
    },
    async disconnect() {
      stopped = true;
      const w = worker;
      if (w === undefined) return;
      await call({ op: 'disconnect' }).catch((err: unknown) => log.warn({ err }, 'Kafka disconnect failed'));
      await w.terminate();
      worker = undefined;
      connected = false;
    },
    async ping() {
      await ensureConnected();
      await call({ op: 'ping' });
    },
    async send(records: OutboundRecord[]) {
      await ensureConnected();
      // Keys (UTF-8, at most 3 bytes per UTF-16 unit) and values back to back in one transferable buffer: no
      // structured clone of thousands of strings, and the producer thread hands kafkajs Buffer keys it need not
      // encode again.
      let total = 0;
      for (const r of records) total += r.key.length * 3 + r.value.length;
      const data = new ArrayBuffer(total);
      const bytes = Buffer.from(data);
      const ends = new Uint32Array(records.length * 2);
      let pos = 0;
      for (let i = 0; i < records.length; i++) {
        const r = records[i] as OutboundRecord;
        pos += bytes.write(r.key, pos, 'utf8');
        ends[2 * i] = pos;
        bytes.set(r.value, pos);
        pos += r.value.length;
        ends[2 * i + 1] = pos;
      }
      await call({ op: 'send', ends, data }, [data, ends.buffer]);
    },
  };
}
