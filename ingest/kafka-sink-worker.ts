/**
 * Worker-thread side of {@link createThreadedKafkaSink}: runs the kafkajs producer off the HTTP thread. kafkajs'
 * per-record work (partitioning, record and batch encoding, CRC) measured as a large share of a reaction's cost;
 * here it runs on another core while the HTTP thread keeps validating and answering.
 *
 * Protocol (one request, one reply with the same id):
 *   → { id, op: 'connect' | 'disconnect' | 'ping' }            ← { id, ok: true } | { id, ok: false, error }
 *   → { id, op: 'send', ends: Uint32Array, data: ArrayBuffer }  (key, value, key, value, ... back to back; ends
 *     holds the end offset of each key and each value)
 * A failure carries the error as a `SerializedError` (name, message, retriable, type, code, cause chain);
 * a send some partitions of which were written also lists, per refused partition, the indices of the records not
 * written and why (`failures`), so the parent rebuilds the same `PartialSendError` (kafka-sink-protocol.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../common/logger.ts';
import { createKafkaSink, type KafkaSinkOptions, type WireRecord } from './kafka-sink.ts';
import { failureReply, type WorkerReply, type WorkerRequest } from './kafka-sink-protocol.ts';

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
        const records = new Array<WireRecord>(msg.ends.length / 2);
        let start = 0;
        for (let i = 0; i < records.length; i++) {
          const keyEnd = msg.ends[2 * i] as number;
          const end = msg.ends[2 * i + 1] as number;
          records[i] = { key: data.subarray(start, keyEnd), value: data.subarray(keyEnd, end) };
          start = end;
        }
        work = sink.send(records);
        break;
      }
    }
    work.then(
      () => port.postMessage({ id: msg.id, ok: true } satisfies WorkerReply),
      (err: unknown) => port.postMessage(failureReply(msg.id, err)),
    );
  });
}
