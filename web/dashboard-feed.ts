/**
 * What the operator dashboard charts: every `scrapeMs` the services' own `/metrics` (Prometheus text) and the
 * Spark jobs' run directories are read, turned into one {@link DashboardPoint} (rates from the counter deltas
 * since the previous scrape, latency quantiles from the histogram deltas), and kept in a bounded history that
 * the page polls. Nothing is invented: a value the services did not report is `null`, and a service that did
 * not answer is marked down with the reason.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { matchViewerSeries, OTHER_MATCHES } from '../fanout/subscriber-node/match-viewers.ts';
import {
  isAlive,
  offsetsBehind,
  readMeta,
  readProgress,
  readStatus,
  runPaths,
} from '../jobs/spark-sql/control/run-dir.ts';
import type { MetricsTarget } from './config.ts';
import {
  byLabel,
  histogramBuckets,
  parsePrometheusText,
  quantileBetween,
  type Sample,
  sumOf,
} from './prometheus-text.ts';

/** Longest `/metrics` answer read, bytes (prom-client's answers are a few kB). */
const MAX_METRICS_BYTES = 1 << 20;
/** Most Spark jobs shown. */
const MAX_JOBS = 16;
/**
 * Latency quantiles are over this much of the past, not one scrape interval: a window update reaches a node
 * once per trigger of the swarm job per match, so most intervals of a quiet stack would hold no observation and
 * chart nothing.
 */
const QUANTILE_WINDOW_MS = 30_000;
/** Matches charted by name (the most watched over all nodes); the others are summed as `(other)`. */
export const MAX_MATCHES_CHARTED = 10;

/** One service's state at a scrape. */
export interface ServiceState {
  role: MetricsTarget['role'];
  up: boolean;
  /** Why it is down (refused, timed out, HTTP status). */
  error?: string;
}

/** A Spark job's state at a scrape, from its run directory (as `npm run job:status` reads it). */
export interface JobPoint {
  state: string;
  batchId: number | null;
  batchMs: number | null;
  inputRowsPerSec: number | null;
  processedRowsPerSec: number | null;
  offsetsBehind: number | null;
}

/** Latency quantiles in ms over the last 30 s; null without observations. */
export interface LatencyPoint {
  p50: number | null;
  p99: number | null;
}

/** One scrape of everything. Rates are per second over the interval since the previous scrape. */
export interface DashboardPoint {
  /** Epoch ms of the scrape. */
  t: number;
  services: Record<string, ServiceState>;
  /** ingest_reactions_accepted_total, all endpoints. */
  acceptedPerSec: number | null;
  /** ingest_reactions_rejected_total by reason. */
  rejectedPerSec: Record<string, number>;
  /** Swarm broadcasts of the subscriber nodes to their match rooms (fanout_messages_out_total{kind="swarm"}). */
  deliveriesPerSec: number | null;
  /** fanout_viewers per subscriber node. */
  viewersByNode: Record<string, number>;
  /** Match rooms with viewers per subscriber node (fanout_rooms). */
  roomsByNode: Record<string, number>;
  /**
   * Viewers per match summed over the subscriber nodes (fanout_match_viewers): the {@link MAX_MATCHES_CHARTED}
   * most watched by name, the rest (and what the nodes themselves summed beyond their own cap) as `(other)`.
   */
  viewersByMatch: Record<string, number>;
  /** main publisher: job emitted_at → routed to the clusters. */
  routeLatencyMs: LatencyPoint;
  /** subscriber nodes: cluster publisher sent_at → relayed to viewers. */
  relayLatencyMs: LatencyPoint;
  jobs: Record<string, JobPoint>;
}

/** Options of {@link createDashboardFeed}. */
export interface DashboardFeedOptions {
  targets: readonly MetricsTarget[];
  sparkState?: string;
  scrapeMs: number;
  historyPoints: number;
  /** @default fetch with a timeout of the scrape interval */
  fetchText?: (url: string) => Promise<string>;
  now?: () => number;
}

/** The running feed. */
export interface DashboardFeed {
  start(): void;
  stop(): void;
  /** Points newer than `since` (epoch ms), oldest first. */
  since(since: number): DashboardPoint[];
  /** Scrapes once now (tests; the timer calls it too). */
  scrape(): Promise<DashboardPoint>;
}

async function fetchBounded(url: string, timeoutMs: number): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`HTTP ${res.status}`);
  }
  const length = Number(res.headers.get('content-length') ?? 0);
  if (length > MAX_METRICS_BYTES) {
    await res.body?.cancel();
    throw new Error(`answer of ${length} bytes is over ${MAX_METRICS_BYTES}`);
  }
  const text = await res.text();
  if (text.length > MAX_METRICS_BYTES) throw new Error(`answer is over ${MAX_METRICS_BYTES} bytes`);
  return text;
}

function reason(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'timed out';
  return (e.cause?.code ?? e.cause?.message ?? e.message ?? String(err)).slice(0, 200);
}

async function readJobs(stateDir: string): Promise<Record<string, JobPoint>> {
  const names = (await readdir(path.join(stateDir, 'runs')).catch(() => [] as string[]))
    .sort()
    .slice(0, MAX_JOBS);
  const jobs: Record<string, JobPoint> = {};
  for (const name of names) {
    const paths = runPaths({ stateDir }, name);
    const [meta, status, progress] = await Promise.all([
      readMeta(paths),
      readStatus(paths),
      readProgress(paths, 1).catch(() => []),
    ]);
    if (!meta) continue;
    const last = progress.at(-1);
    const alive = isAlive(meta.launcherPid);
    jobs[name] = {
      state: alive
        ? (status?.state ?? 'starting')
        : status?.state === 'running'
          ? 'dead'
          : (status?.state ?? 'dead'),
      batchId: last?.batchId ?? null,
      batchMs: last ? (last.batchDuration ?? last.durationMs?.triggerExecution ?? null) : null,
      inputRowsPerSec: last?.inputRowsPerSecond ?? null,
      processedRowsPerSec: last?.processedRowsPerSecond ?? null,
      offsetsBehind: last ? (offsetsBehind(last) ?? null) : null,
    };
  }
  return jobs;
}

const ms = (seconds: number | undefined) =>
  seconds === undefined ? null : Math.round(seconds * 10_000) / 10;

/** Creates the feed; it scrapes once `start()` is called. */
export function createDashboardFeed(options: DashboardFeedOptions): DashboardFeed {
  const now = options.now ?? Date.now;
  const fetchText = options.fetchText ?? ((url) => fetchBounded(url, Math.max(500, options.scrapeMs - 100)));
  const history: DashboardPoint[] = [];
  /** The previous successful scrape of each service, for deltas. */
  let previous = new Map<string, { t: number; samples: Sample[] }>();
  /** Per service, its latency histogram at each scrape of the last {@link QUANTILE_WINDOW_MS}, oldest first. */
  const latencyHistory = new Map<string, { t: number; buckets: [number, number][] }[]>();
  let timer: NodeJS.Timeout | undefined;

  /** The service's latency histogram now and at the start of the quantile window. */
  function latencySpan(name: string, t: number, samples: Sample[]) {
    const buckets = histogramBuckets(samples, 'fanout_emit_latency_seconds');
    const list = latencyHistory.get(name) ?? [];
    list.push({ t, buckets });
    while (list.length > 2 && (list[1]?.t ?? t) <= t - QUANTILE_WINDOW_MS) list.shift();
    latencyHistory.set(name, list);
    return {
      before: list.length > 1 ? (list[0]?.buckets ?? []) : [],
      after: buckets,
      fresh: list.length > 1,
    };
  }
  let inFlight: Promise<DashboardPoint> | undefined;

  async function scrapeOnce(): Promise<DashboardPoint> {
    const t = now();
    const results = await Promise.all(
      options.targets.map(async (target) => {
        try {
          return { target, samples: parsePrometheusText(await fetchText(`${target.url}/metrics`)) };
        } catch (err) {
          return { target, error: reason(err) };
        }
      }),
    );
    const point: DashboardPoint = {
      t,
      services: {},
      acceptedPerSec: null,
      rejectedPerSec: {},
      deliveriesPerSec: null,
      viewersByNode: {},
      roomsByNode: {},
      viewersByMatch: {},
      routeLatencyMs: { p50: null, p99: null },
      relayLatencyMs: { p50: null, p99: null },
      jobs: options.sparkState === undefined ? {} : await readJobs(options.sparkState),
    };
    const next = new Map<string, { t: number; samples: Sample[] }>();
    const matchViewers = new Map<string, number>();
    const relayBefore: [number, number][][] = [];
    const relayAfter: [number, number][][] = [];
    for (const r of results) {
      const { name, role } = r.target;
      if (r.samples === undefined) {
        point.services[name] = { role, up: false, error: r.error };
        latencyHistory.delete(name); // a restarted service starts its histograms from zero
        continue;
      }
      point.services[name] = { role, up: true };
      next.set(name, { t, samples: r.samples });
      const prev = previous.get(name);
      const dt = prev === undefined ? 0 : (t - prev.t) / 1000;
      const rate = (metric: string, match?: Record<string, string>) =>
        prev === undefined || dt <= 0
          ? null
          : Math.max(0, sumOf(r.samples, metric, match) - sumOf(prev.samples, metric, match)) / dt;
      const add = (a: number | null, b: number | null) => (b === null ? a : (a ?? 0) + b);
      if (role === 'ingest') {
        point.acceptedPerSec = add(point.acceptedPerSec, rate('ingest_reactions_accepted_total'));
        if (prev !== undefined && dt > 0) {
          const before = byLabel(prev.samples, 'ingest_reactions_rejected_total', 'reason');
          for (const [why, n] of byLabel(r.samples, 'ingest_reactions_rejected_total', 'reason')) {
            const perSec = Math.max(0, n - (before.get(why) ?? 0)) / dt;
            point.rejectedPerSec[why] = (point.rejectedPerSec[why] ?? 0) + perSec;
          }
        }
      } else if (role === 'subscriber-node') {
        point.deliveriesPerSec = add(
          point.deliveriesPerSec,
          rate('fanout_messages_out_total', { kind: 'swarm' }),
        );
        point.viewersByNode[name] = sumOf(r.samples, 'fanout_viewers');
        point.roomsByNode[name] = sumOf(r.samples, 'fanout_rooms');
        for (const [matchId, n] of byLabel(r.samples, 'fanout_match_viewers', 'match_id'))
          matchViewers.set(matchId, (matchViewers.get(matchId) ?? 0) + n);
        const span = latencySpan(name, t, r.samples);
        if (span.fresh) {
          relayBefore.push(span.before);
          relayAfter.push(span.after);
        }
      } else if (role === 'main-publisher') {
        const { before, after, fresh } = latencySpan(name, t, r.samples);
        if (fresh)
          point.routeLatencyMs = {
            p50: ms(quantileBetween(before, after, 0.5)),
            p99: ms(quantileBetween(before, after, 0.99)),
          };
      }
    }
    // The nodes share one bucket layout: summing their buckets gives the quantiles over all nodes.
    const merge = (lists: [number, number][][]) => {
      const sum = new Map<number, number>();
      for (const list of lists) for (const [le, n] of list) sum.set(le, (sum.get(le) ?? 0) + n);
      return [...sum].sort((a, b) => a[0] - b[0]);
    };
    if (relayAfter.length > 0) {
      const before = merge(relayBefore);
      const after = merge(relayAfter);
      point.relayLatencyMs = {
        p50: ms(quantileBetween(before, after, 0.5)),
        p99: ms(quantileBetween(before, after, 0.99)),
      };
    }
    // A node's own overflow stays overflow here: only named matches compete for the chart's names.
    const overflow = matchViewers.get(OTHER_MATCHES) ?? 0;
    matchViewers.delete(OTHER_MATCHES);
    for (const [matchId, n] of matchViewerSeries(matchViewers, MAX_MATCHES_CHARTED))
      point.viewersByMatch[matchId] = n;
    if (overflow > 0)
      point.viewersByMatch[OTHER_MATCHES] = (point.viewersByMatch[OTHER_MATCHES] ?? 0) + overflow;
    previous = next;
    history.push(point);
    if (history.length > options.historyPoints) history.splice(0, history.length - options.historyPoints);
    return point;
  }

  const scrape = () => {
    // One scrape at a time: a slow service must not pile up overlapping scrapes.
    inFlight ??= scrapeOnce().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  return {
    start() {
      if (timer !== undefined) return;
      void scrape();
      timer = setInterval(() => void scrape(), options.scrapeMs);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
    since: (since) => history.filter((p) => p.t > since),
    scrape,
  };
}
