/**
 * Where the end-to-end latency goes: one latency sample (ingest accepted a reaction → a viewer first holds a
 * window count that includes it) split into the hops of the pipeline, from the stamps the sample's path carries.
 *
 * A sample's stamps, in pipeline order (all epoch ms; they compare only when the tiers share a clock, as on one
 * machine):
 * - `accepted`: the load client got ingest's answer;
 * - `on Kafka`: the reactions' Kafka record timestamp (ingest's producer stamps it when it sends the batch);
 * - `batch start`: `emitted_at` of the window state the viewer saw, which is Spark's `current_timestamp()`: in a
 *   streaming query, the micro-batch's timestamp, the same in every row of the batch, taken right after the batch's
 *   end offsets are read (MicroBatchExecution.constructNextBatch), i.e. the batch's start. (The Flink
 *   query's LOCALTIMESTAMP is taken per row, so there this boundary is the row's computation, not a batch start);
 * - `aggregate on Kafka`: `aggregated_at`, the aggregate row's Kafka record timestamp (the job's sink writes it as
 *   the batch's last stage runs);
 * - `routed`, `sent`, `relayed`: the main publisher, the cluster publisher and the subscriber node (`routed_at`,
 *   `sent_at`, `relayed_at`);
 * - `seen`: the viewer received the message.
 *
 * The window message carries the stamps of its newest update, which is the update that first made its count
 * include the reaction (that is what "first seen" means), so every reaction first seen in a message gets that
 * message's stamps.
 *
 * The hops always sum to the sample's end-to-end latency (`seen − accepted`): each boundary is clamped between
 * the one before it and `seen`, so a stamp earlier than its predecessor makes its hop 0 and the next hop starts at
 * the predecessor (e.g. a reaction that reached Kafka before the client read ingest's answer, or a batch planned a
 * few ms before a record it still read landed); a missing stamp (an older tier that does not stamp it, a record the
 * load client did not see on Kafka) likewise gives its time to the next hop, and is counted.
 */
import hdr from 'hdr-histogram-js';
import type { SwarmTrace } from '../../common/socket-events.ts';

/** The hops, in pipeline order. */
export const HOPS = [
  { id: 'ingest_to_kafka', label: 'accepted → on Kafka', what: "ingest's batching and produce request" },
  { id: 'trigger_wait', label: 'on Kafka → batch start', what: "waiting for the job's next micro-batch" },
  {
    id: 'spark_batch',
    label: 'batch start → aggregate on Kafka',
    what: 'the micro-batch up to its sink write',
  },
  {
    id: 'main_publisher',
    label: 'aggregate on Kafka → routed',
    what: 'main publisher: poll, decode, fold, route',
  },
  { id: 'publisher_link', label: 'routed → cluster publisher', what: 'the Kafka hop between the publishers' },
  { id: 'to_node', label: 'cluster publisher → node relay', what: 'Socket.IO to the node, its relay' },
  { id: 'to_viewer', label: 'node relay → viewer', what: 'Socket.IO broadcast to the viewer, its handler' },
] as const;

export type HopId = (typeof HOPS)[number]['id'];

/** The stamps of one latency sample; see the module comment. */
export interface SampleStamps {
  acceptedAt: number;
  /** Kafka timestamp of the reaction's record; undefined when not known. */
  onKafkaAt?: number;
  /** The stamps of the window message in which the viewer first saw the reaction. */
  trace: Partial<SwarmTrace>;
  seenAt: number;
}

/** The stamps of {@link SampleStamps} between `accepted` and `seen`, in pipeline order (one per hop boundary). */
const INNER_STAMPS = [
  'on_kafka',
  'emitted_at',
  'aggregated_at',
  'routed_at',
  'sent_at',
  'relayed_at',
] as const;
export type InnerStamp = (typeof INNER_STAMPS)[number];

function stamp(s: SampleStamps, name: InnerStamp): number | undefined {
  const v = name === 'on_kafka' ? s.onKafkaAt : s.trace[name];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * The hop durations of one sample, in {@link HOPS} order, and the stamps it lacked. Non-negative and summing to
 * `seenAt − acceptedAt` (all 0 when `seenAt` is not after `acceptedAt`).
 */
export function hopDurations(s: SampleStamps): { durations: number[]; missing: InnerStamp[] } {
  const missing: InnerStamp[] = [];
  const durations: number[] = [];
  const end = Math.max(s.acceptedAt, s.seenAt);
  let previous = s.acceptedAt;
  for (const name of INNER_STAMPS) {
    const value = stamp(s, name);
    if (value === undefined) missing.push(name);
    const boundary = Math.min(end, Math.max(previous, value ?? previous));
    durations.push(boundary - previous);
    previous = boundary;
  }
  durations.push(end - previous);
  return { durations, missing };
}

/** One hop's figures over the samples, in ms. */
export interface HopFigures {
  id: HopId;
  label: string;
  p50: number;
  p99: number;
  mean: number;
}

/** Mean hop durations (ms, {@link HOPS} order) of a group of samples; they sum to the group's mean latency. */
export interface HopSplit {
  /** Which samples: all, those around the median latency, or the slowest. */
  samples: string;
  count: number;
  /** Mean end-to-end latency of these samples, ms. */
  e2e_mean: number;
  hops: number[];
}

/** What {@link HopStats.summary} reports. */
export interface HopSummary {
  /** Reactions whose latency was split (a sample counts each reaction it covers). */
  count: number;
  hops: HopFigures[];
  /** All samples, the samples between the p40 and p60 latency, and those at or above the p99. */
  splits: HopSplit[];
  /** Samples that lacked a stamp, per stamp (its time went to the next hop). */
  missing: Partial<Record<InnerStamp, number>>;
}

/** Width of the latency bins the splits are kept in, ms. */
const BIN_MS = 20;
/** Latencies beyond this fall into the last bin (as the tracker's histogram bounds them). */
const MAX_MS = 3_600_000;

/** Per-hop histograms of many samples, and their mean split by end-to-end latency; see {@link HopSummary}. */
export class HopStats {
  readonly #histograms = HOPS.map(() =>
    hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: MAX_MS }),
  );
  /** Per latency bin: samples and their summed hop durations (so a split of any latency range is exact). */
  readonly #bins = new Map<number, { count: number; e2e: number; sums: number[] }>();
  readonly #missing: Partial<Record<InnerStamp, number>> = {};
  #count = 0;

  /** Records `count` reactions that share one sample's stamps. */
  record(stamps: SampleStamps, count = 1): void {
    if (count <= 0) return;
    const { durations, missing } = hopDurations(stamps);
    for (const name of missing) this.#missing[name] = (this.#missing[name] ?? 0) + count;
    let e2e = 0;
    durations.forEach((d, i) => {
      this.#histograms[i]?.recordValueWithCount(Math.min(d, MAX_MS), count);
      e2e += d;
    });
    const bin = Math.floor(Math.min(e2e, MAX_MS) / BIN_MS);
    let entry = this.#bins.get(bin);
    if (entry === undefined) {
      entry = { count: 0, e2e: 0, sums: HOPS.map(() => 0) };
      this.#bins.set(bin, entry);
    }
    entry.count += count;
    entry.e2e += e2e * count;
    durations.forEach((d, i) => {
      (entry.sums as number[])[i] = (entry.sums[i] ?? 0) + d * count;
    });
    this.#count += count;
  }

  summary(): HopSummary {
    const hops = HOPS.map((hop, i) => {
      const h = this.#histograms[i];
      return {
        id: hop.id,
        label: hop.label,
        p50: this.#count === 0 || h === undefined ? 0 : h.getValueAtPercentile(50),
        p99: this.#count === 0 || h === undefined ? 0 : h.getValueAtPercentile(99),
        mean: this.#count === 0 || h === undefined ? 0 : Math.round(h.mean),
      };
    });
    const bins = [...this.#bins].sort(([a], [b]) => a - b);
    return {
      count: this.#count,
      hops,
      splits: [
        this.#split('all', bins, 0, 1),
        this.#split('p40–p60', bins, 0.4, 0.6),
        this.#split('≥ p99', bins, 0.99, 1),
      ],
      missing: { ...this.#missing },
    };
  }

  /** The mean split of the samples whose latency rank lies in [from, to] (fractions of all samples, by bin). */
  #split(
    samples: string,
    bins: [number, { count: number; e2e: number; sums: number[] }][],
    from: number,
    to: number,
  ): HopSplit {
    const lo = from * this.#count;
    const hi = to * this.#count;
    let before = 0;
    let count = 0;
    let e2e = 0;
    const sums = HOPS.map(() => 0);
    for (const [, bin] of bins) {
      const after = before + bin.count;
      // A bin is in the group when it overlaps the rank range; bins are 20 ms wide, so the edges are that coarse.
      if (after > lo && before < hi) {
        count += bin.count;
        e2e += bin.e2e;
        bin.sums.forEach((v, i) => {
          sums[i] = (sums[i] ?? 0) + v;
        });
      }
      before = after;
    }
    const mean = (v: number) => (count === 0 ? 0 : Math.round(v / count));
    return { samples, count, e2e_mean: mean(e2e), hops: sums.map(mean) };
  }
}
