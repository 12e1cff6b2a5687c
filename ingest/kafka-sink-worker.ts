/**
 * Worker-thread side of {@link createThreadedKafkaSink}: runs the kafkajs producer off the HTTP thread. kafkajs'
 * per-record work (partitioning, record and batch encoding, CRC) measured as a large share of a reaction's cost;
 * here it runs on another core while the HTTP thread keeps validating and answering.
 *
 * Protocol (one request, one reply with the same id):
 *   → { id, op: 'connect' | 'disconnect' | 'ping' }            ← { id, ok: true } | { id, ok: false, error }
 *   → { id, op: 'send', keys: string[], ends: Uint32Array, data: ArrayBuffer }  (values packed back to back)
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../common/logger.ts';
import { createKafkaSink, type KafkaSinkOptions } from './kafka-sink.ts';
import type { OutboundRecord } from './reaction-buffer.ts';

export type WorkerRequest =
  | { id: number; op: 'connect' | 'disconnect' | 'ping' }
  | { id: number; op: 'send'; keys: string[]; ends: Uint32Array; data: ArrayBuffer };
export type WorkerReply = { id: number; ok: true } | { id: number; ok: false; error: string };

/** What the parent passes as `workerData` (everything but the logger, which cannot cross threads). */
export type WorkerSinkOptions = Omit<KafkaSinkOptions, 'logger'> & { logLevel: string };

if (parentPort) {
  const port = parentPort;
  const options = workerData as WorkerSinkOptions;
  const logger = createLogger('ingest', options.logLevel).child({ thread: 'kafka' });
  const sink = createKafkaSink({ ...options, logger });

  port.on('message', (msg: WorkerRequest) => {
    let work: Promise<void>;
    switch (msg.op) {
      case 'connect':
        work = sink.connect();
        break;
      case 'disconnect':
        work = sink.disconnect();
        break;
      case 'ping':
        work = sink.ping();
        break;
      case 'send': {
        const data = Buffer.from(msg.data);
        const records = new Array<OutboundRecord>(msg.keys.length);
        let start = 0;
        for (let i = 0; i < records.length; i++) {
          const end = msg.ends[i] as number;
          records[i] = { key: msg.keys[i] as string, value: data.subarray(start, end) };
          start = end;
        }
        work = sink.send(records);
        break;
      }
    }
    work.then(
      () => port.postMessage({ id: msg.id, ok: true } satisfies WorkerReply),
      (err: unknown) =>
        port.postMessage({ id: msg.id, ok: false, error: String((err as Error)?.message ?? err) }),
    );
  });
}
