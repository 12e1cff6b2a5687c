/**
 * Reads the latest benchmark reports into the capacity model's measured figures, each with its report and date.
 * A missing or outdated report is a {@link ReportError} naming the command that writes it.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import avro from 'avsc';
import { FRAME_HEADER_LENGTH } from '../../common/avro-serde.ts';
import type { Figure, Measured } from './model.ts';

export class ReportError extends Error {
  override name = 'ReportError';
}

/** The fan-out benchmark's latency target: broadcast p99 within this many ms. */
export const NODE_P99_TARGET_MS = 250;

/** Kafka record overhead per record inside a v2 batch (varint length, attributes, deltas, header count). */
const RECORD_OVERHEAD_BYTES = 16;

interface Report<T> {
  file: string;
  at: string;
  body: T;
}

function readReport<T>(dir: string, name: string, command: string): Report<T> {
  const file = path.join(dir, name);
  if (!existsSync(file)) throw new ReportError(`${file} not found: run \`${command}\` first`);
  let body: T & { at?: string };
  try {
    body = JSON.parse(readFileSync(file, 'utf8')) as T & { at?: string };
  } catch (err) {
    throw new ReportError(`${file} is not JSON (${(err as Error).message}): run \`${command}\` again`);
  }
  return { file, at: body.at ?? statSync(file).mtime.toISOString(), body };
}

const figure = (value: number, r: Report<unknown>, detail: string): Figure => ({
  value,
  source: { report: path.basename(r.file), at: r.at.slice(0, 10), detail },
});

interface IngestReport {
  rows: {
    phase: string;
    target: string;
    reactionsPerSec: number;
    non2xx: number;
    errors: number;
    serverCores?: number;
  }[];
  inKafka: number;
  acceptedTotal: number;
}

interface SparkRow {
  'target/s': number;
  sustained: boolean;
  'rows/s/core'?: number;
  'spark cores'?: number;
}

interface FanoutReport {
  results: {
    joined: number;
    p99: number;
    nodeCpuMsPerBroadcast: number;
    bytesPerViewer: number;
  }[];
}

/**
 * Node CPU per broadcast as a fixed part plus a part per viewer: the least-squares line through the levels measured
 * (both parts kept ≥ 0: a line that would need a negative fixed part goes through the origin instead). One level:
 * all of it per viewer.
 */
export function nodeCpuFit(levels: readonly { viewers: number; ms: number }[]): {
  perViewer: number;
  perBroadcast: number;
} {
  const top = levels.at(-1);
  if (!top) return { perViewer: 0, perBroadcast: 0 };
  const n = levels.length;
  const mx = levels.reduce((s, l) => s + l.viewers, 0) / n;
  const my = levels.reduce((s, l) => s + l.ms, 0) / n;
  const sxx = levels.reduce((s, l) => s + (l.viewers - mx) ** 2, 0);
  if (n < 2 || sxx === 0) return { perViewer: top.ms / top.viewers, perBroadcast: 0 };
  const slope = levels.reduce((s, l) => s + (l.viewers - mx) * (l.ms - my), 0) / sxx;
  const intercept = my - slope * mx;
  if (slope > 0 && intercept >= 0) return { perViewer: slope, perBroadcast: intercept };
  // No fixed part to be seen: the line through the origin.
  const sxy0 = levels.reduce((s, l) => s + l.viewers * l.ms, 0);
  const sxx0 = levels.reduce((s, l) => s + l.viewers ** 2, 0);
  return { perViewer: sxy0 / sxx0, perBroadcast: 0 };
}

/** Which ingest phase stands for a replica's capacity: one POST per tap, or clients batching their taps. */
export type IngestMode = 'single' | 'batch';

export function readMeasured(dir: string, ingestMode: IngestMode = 'single'): Measured {
  const ingest = readReport<IngestReport>(dir, 'bench-ingest.json', 'npm run bench:ingest');
  const row = ingest.body.rows.find((r) => r.phase === ingestMode && r.target.startsWith('ingest'));
  if (row === undefined) throw new ReportError(`${ingest.file} has no ingest ${ingestMode} row`);
  if (row.serverCores === undefined || row.serverCores <= 0)
    throw new ReportError(`${ingest.file} predates CPU metering: run \`npm run bench:ingest\` again`);
  if (ingest.body.inKafka !== ingest.body.acceptedTotal)
    throw new ReportError(
      `${ingest.file}: ingest accepted ${ingest.body.acceptedTotal} but the topic held ${ingest.body.inKafka}; ` +
        'a run that lost reactions is no capacity figure',
    );

  // Spark alone (preload) when measured, else the live run; the newer of the two when both exist.
  const sparkFiles = ['bench-spark-preload.json', 'bench-spark.json'].filter((f) =>
    existsSync(path.join(dir, f)),
  );
  if (sparkFiles.length === 0)
    throw new ReportError(
      `${path.join(dir, 'bench-spark-preload.json')} not found: run \`npm run bench:spark -- --mode preload\` first`,
    );
  const spark = sparkFiles
    .map((f) => readReport<{ table: SparkRow[]; trigger: number }>(dir, f, 'npm run bench:spark'))
    .sort((x, y) => y.at.localeCompare(x.at))[0] as Report<{ table: SparkRow[]; trigger: number }>;
  const sustained = spark.body.table.filter((r) => r.sustained && (r['rows/s/core'] ?? 0) > 0);
  if (spark.body.table.some((r) => r['rows/s/core'] === undefined))
    throw new ReportError(`${spark.file} predates CPU metering: run \`npm run bench:spark\` again`);
  if (sustained.length === 0)
    throw new ReportError(`${spark.file}: no rate was sustained (every batch within the trigger)`);
  const best = sustained.reduce((x, y) => (y['target/s'] > x['target/s'] ? y : x));

  const fanout = readReport<FanoutReport>(dir, 'bench-fanout-socket.io.json', 'npm run bench:fanout');
  const levels = fanout.body.results.filter((r) => r.joined > 0);
  const top = levels.at(-1);
  if (top === undefined) throw new ReportError(`${fanout.file} has no level with viewers`);
  const nodeCost = nodeCpuFit(levels.map((l) => ({ viewers: l.joined, ms: l.nodeCpuMsPerBroadcast })));
  const within = levels.filter((r) => r.p99 <= NODE_P99_TARGET_MS);
  const latencyBound =
    within.length === levels.length
      ? Number.POSITIVE_INFINITY // not reached at the top level measured: not a bound
      : (within.at(-1)?.joined ?? 0);

  const reaction = avro.Type.forSchema(
    JSON.parse(readFileSync(new URL('../../schemas/reaction.avsc', import.meta.url), 'utf8')) as avro.Schema,
  );
  const sample = {
    event_id: '0b9c6a4e-3f7d-4c1e-9a52-8d7e6f5a4b3c',
    match_id: 'match-2026-final',
    user_id: 'user-12345678',
    emoji: '🔥',
    client_ts: Date.UTC(2026, 11, 1),
    ingest_ts: Date.UTC(2026, 11, 1),
  };
  const valueBytes = reaction.toBuffer(sample).length + FRAME_HEADER_LENGTH;
  const recordBytes = valueBytes + Buffer.byteLength(sample.user_id) + RECORD_OVERHEAD_BYTES;

  return {
    ingestReactionsPerReplica: figure(
      row.reactionsPerSec,
      ingest,
      `${ingestMode} POSTs, every accepted reaction in the topic`,
    ),
    ingestCoresPerReplica: figure(row.serverCores, ingest, `cores ingest used at that rate`),
    sparkRowsPerCore: figure(
      best['rows/s/core'] as number,
      spark,
      `at ${best['target/s']}/s, every batch within the ${spark.body.trigger} ms trigger, ${best['spark cores']} cores`,
    ),
    nodeCpuMsPerViewerBroadcast: figure(
      nodeCost.perViewer,
      fanout,
      levels.length > 1
        ? `slope of node CPU per broadcast over ${levels.map((l) => l.joined).join(', ')} viewers ` +
            `(${levels.map((l) => l.nodeCpuMsPerBroadcast.toFixed(0)).join(', ')} ms)`
        : `${top.nodeCpuMsPerBroadcast.toFixed(0)} ms per broadcast to ${top.joined} viewers`,
    ),
    nodeCpuMsPerBroadcast: figure(
      nodeCost.perBroadcast,
      fanout,
      levels.length > 1 ? 'intercept of the same fit' : 'one level measured: no fixed part',
    ),
    nodeBytesPerViewer: figure(top.bytesPerViewer, fanout, `node RSS per viewer at ${top.joined} viewers`),
    nodeViewersWithinLatency: figure(
      latencyBound,
      fanout,
      Number.isFinite(latencyBound)
        ? `the most viewers with broadcast p99 ≤ ${NODE_P99_TARGET_MS} ms`
        : `p99 ≤ ${NODE_P99_TARGET_MS} ms up to the top level measured (${top.joined}); not a bound there`,
    ),
    reactionRecordBytes: {
      value: recordBytes,
      source: {
        report: 'schemas/reaction.avsc',
        at: new Date().toISOString().slice(0, 10),
        detail: `a representative reaction: ${valueBytes} B framed Avro + ${sample.user_id.length} B key + ~${RECORD_OVERHEAD_BYTES} B record overhead`,
      },
    },
  };
}
