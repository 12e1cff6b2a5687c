#!/usr/bin/env tsx
/**
 * `npm run load -- --rate R --viewers V --duration D --matches K [--label NAME] [--directory URL] [--ingest URL]
 *  [--batch N] [--auth] [--durable] [--kafka BROKERS] [--registry URL]`
 *
 * Load simulator against a running pipeline (`npm start`): posts R reactions/s through the batch endpoint across K
 * matches for D seconds while holding V viewers, spread over the matches and assigned to subscriber nodes by the
 * directory. Prints a progress line each second and writes a JSON report to reports/load-<time>.json with
 * accepted/rejected, end-to-end latency p50/p95/p99 (ingest accepted → first viewer whose window count includes
 * the reaction; see fanout/client/latency-tracker.ts) and deliveries/s, and beside it an SVG chart of the latency
 * over the run (scripts/load-chart.ts; `--redraw <report.json>` draws it again from a report). Loopback addresses
 * only.
 *
 * Hops: every latency sample is also split into the pipeline's hops (fanout/client/hop-trace.ts) from the stamps
 * the viewer's window message carries and, for "accepted → on Kafka", the reactions' Kafka record timestamps, read
 * by a consumer of the reactions topic (scripts/reaction-tap.ts; `--kafka`, `--registry`, else KAFKA_BROKERS,
 * SCHEMA_REGISTRY_URL, else the local defaults). The report's `hops_ms` holds per-hop p50/p99/mean and the mean
 * split of all, median and tail samples; the table is printed, and a stacked chart is written beside the report
 * (`-hops.svg`). `--label NAME` names the run in its report (and file name), so runs compare:
 * `npm run load -- --compare a.json b.json …` prints their hop tables side by side and draws one chart of them.
 *
 * Auth (`npm start -- --auth`): with `--auth`, `EMOSTREAM_AUTH=jwt`, or when ingest answers a token-less probe 401,
 * every request carries a token (infra/local/load-tokens.ts, signed with the local secret, `--data-dir` as for
 * `npm start`): the reactions are spread over a pool of subjects, one per request, each kept at half ingest's
 * default per-user limit (10 of 20/s, batches of at most 20), and each viewer presents a token for its match.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { argv, chalk } from 'zx';
import { brokerList } from '../common/kafka.ts';
import type { SwarmMessage } from '../common/socket-events.ts';
import { TOPICS } from '../common/topics.ts';
import { createViewer, LatencyTracker, type Viewer } from '../fanout/index.ts';
import { localAuthWanted, localTokenSecret } from '../infra/local/auth-secret.ts';
import { dataDirFrom } from '../infra/local/data-dir.ts';
import { createLoadTokens, type LoadTokens } from '../infra/local/load-tokens.ts';
import { repoRoot } from '../infra/local/versions.ts';
import { fail, intOption } from './cli-options.ts';
import { loadChartSvg } from './load-chart.ts';
import {
  compareTable,
  hopsChartSvg,
  hopTable,
  type LoadReportForHops,
  runName,
  splitTable,
} from './load-hops.ts';
import { type ReactionTap, startReactionTap } from './reaction-tap.ts';

function readReport(file: string): LoadReportForHops & Parameters<typeof loadChartSvg>[0] {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    fail(`${file}: not a load report (${(err as Error).message})`);
  }
}

if (argv.redraw) {
  // `--redraw <report.json>`: only the charts again, from a report (after a change to a chart; no load).
  const file = path.resolve(String(argv.redraw));
  const report = readReport(file);
  writeFileSync(file.replace(/\.json$/, '.svg'), loadChartSvg(report));
  console.log(`chart: ${path.relative(process.cwd(), file.replace(/\.json$/, '.svg'))}`);
  if (report.hops_ms !== undefined) {
    writeFileSync(file.replace(/\.json$/, '-hops.svg'), hopsChartSvg([report]));
    console.log(`chart: ${path.relative(process.cwd(), file.replace(/\.json$/, '-hops.svg'))}`);
  }
  process.exit(0);
}

if (argv.compare) {
  // `--compare a.json b.json …`: the runs' hop tables side by side, and one stacked chart of them (no load).
  const files = [String(argv.compare), ...argv._.map(String)].map((f) => path.resolve(f));
  const reports = files.map((f) => {
    const r = readReport(f);
    return { ...r, label: r.label ?? path.basename(f, '.json') };
  });
  console.log(compareTable(reports));
  const dir = path.join(repoRoot, 'reports');
  mkdirSync(dir, { recursive: true });
  const out = path.join(
    dir,
    `load-compare-${reports
      .map((r) => runName(r))
      .join('-vs-')
      .replace(/[^\w.-]+/g, '_')}.svg`,
  );
  writeFileSync(out, hopsChartSvg(reports));
  console.log(`\nchart: ${path.relative(process.cwd(), out)}`);
  process.exit(0);
}

const WINDOW_MS = 2000;
const TICK_MS = 50;
/** Emojis and their share of the traffic. */
const MIX: [string, number][] = [
  ['🔥', 0.4],
  ['👏', 0.25],
  ['❤️', 0.15],
  ['😂', 0.12],
  ['😮', 0.08],
];

function loopbackUrl(name: string, value: string): string {
  const url = new URL(value);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
    fail(`--${name} ${value}: the load simulator only targets loopback addresses`);
  }
  return value.replace(/\/+$/, '');
}

const rate = intOption('rate', 1000, 1, 200_000);
const viewerCount = intOption('viewers', 100, 0, 20_000);
const durationS = intOption('duration', 30, 1, 600);
const matchCount = intOption('matches', 4, 1, 1000);
let batchMax = intOption('batch', 500, 1, 5000);
const maxInFlight = intOption('in-flight', 16, 1, 256);
const drainS = intOption('drain', 20, 0, 120);
const directoryUrl = loopbackUrl(
  'directory',
  String(argv.directory ?? process.env.DIRECTORY_URL ?? 'http://127.0.0.1:8090'),
);
const ingestUrl = loopbackUrl(
  'ingest',
  String(argv.ingest ?? process.env.INGEST_URL ?? 'http://127.0.0.1:8080'),
);
// `--durable`: ingest answers once Kafka acknowledged the batch (200), not at once (202). "Accepted" is then after
// "on Kafka": that hop reads 0, and ingest's batching and produce round trip are before the latency starts.
const durable = argv.durable === true;
const label = argv.label === undefined ? undefined : String(argv.label);
if (label !== undefined && !/^[\w.-]{1,40}$/.test(label)) fail('--label must be 1–40 of A–Z a–z 0–9 _ . -');
const kafkaBrokers = brokerList(String(argv.kafka ?? process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'));
const registryUrl = String(
  argv.registry ?? process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7',
);
const runId = randomUUID().slice(0, 6);
const matches = Array.from({ length: matchCount }, (_, i) => `load-${runId}-${i + 1}`);
// Enough users that none comes near ingest's per-user rate limit (20/s by default).
const users = Math.max(1000, rate);

/** Per-subject share of a load with auth on: half the default per-user limit (20/s, burst 40). */
const SUBJECT_RATE = 10;
const SUBJECT_BATCH = 20;
/** True when ingest refuses a request without a token (auth on), whatever this process was told. */
async function ingestWantsToken(): Promise<boolean> {
  try {
    const res = await fetch(`${ingestUrl}/v1/reactions:batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
      signal: AbortSignal.timeout(5000),
    });
    return res.status === 401;
  } catch {
    return false;
  }
}
let tokens: LoadTokens | undefined;
if (localAuthWanted(argv) || (await ingestWantsToken())) {
  const secret = localTokenSecret(dataDirFrom(argv));
  if (secret === undefined)
    fail('auth is on but there is no local secret: start with npm start -- --auth, or set AUTH_JWT_SECRET');
  tokens = await createLoadTokens({
    secret,
    subjects: Math.max(100, Math.ceil(rate / SUBJECT_RATE)),
    prefix: `load-${runId}`,
  });
  batchMax = Math.min(batchMax, SUBJECT_BATCH);
}

const tracker = new LatencyTracker();
const totals = {
  requests: 0,
  accepted: 0,
  rejected: 0,
  rejectedByStatus: {} as Record<string, number>,
  networkErrors: 0,
  /** Batches answered in a later window than they were sent in (credited to the later one). */
  /** Reactions due but not sent because `--in-flight` requests were already waiting (ingest too slow). */
  skipped: 0,
  deliveries: 0,
  snapshots: 0,
  disconnects: 0,
};

function pickEmoji(): string {
  let r = Math.random();
  for (const [emoji, share] of MIX) {
    r -= share;
    if (r < 0) return emoji;
  }
  return MIX[0]?.[0] ?? '🔥';
}

function onWindow(m: SwarmMessage): void {
  let total = 0;
  for (const n of Object.values(m.counts)) total += n;
  // The message's hop stamps split the latency of what it delivers (hop-trace.ts).
  tracker.observed(m.match_id, m.window_start, total, Date.now(), m);
}

// --- viewers ---------------------------------------------------------------------------------------------------
const viewers: Viewer[] = [];
async function connectViewers(): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < viewerCount) {
      const i = next++;
      const matchId = matches[i % matchCount] ?? '';
      const viewer = createViewer({
        directoryUrl,
        matchIds: [matchId],
        windowsPerMatch: 5,
        token: await tokens?.viewer(i, [matchId]),
      });
      viewer.on('swarm', (m) => {
        totals.deliveries++;
        onWindow(m);
      });
      viewer.on('snapshot', (s) => {
        totals.snapshots++;
        for (const w of s.windows) onWindow(w);
      });
      viewer.on('disconnected', () => {
        // Our own stop at the end closes every socket: only losses before it count.
        if (!finished) totals.disconnects++;
      });
      viewer.on('error', () => {});
      viewers.push(viewer);
      await viewer.start();
    }
  };
  await Promise.all(Array.from({ length: Math.min(20, viewerCount) }, worker));
}

// --- reactions -------------------------------------------------------------------------------------------------
let inFlight = 0;
async function postBatch(matchId: string, n: number): Promise<void> {
  const now = Date.now();
  // With auth on, the request reacts as one subject of the pool; else every reaction picks a user.
  const reactor = tokens?.nextReactor();
  const reactions = Array.from({ length: n }, () => ({
    match_id: matchId,
    user_id: reactor?.subject ?? `load-${Math.floor(Math.random() * users)}`,
    emoji: pickEmoji(),
    timestamp: now,
  }));
  inFlight++;
  totals.requests++;
  try {
    const res = await fetch(`${ingestUrl}/v1/reactions:batch${durable ? '?durable=true' : ''}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(reactor === undefined ? {} : { authorization: reactor.authorization }),
      },
      body: JSON.stringify({ reactions }),
      signal: AbortSignal.timeout(10_000),
    });
    const after = Date.now();
    const body = (await res.json().catch(() => ({}))) as {
      accepted?: number;
      rejected?: number;
      ingest_ts?: number;
    };
    if (res.status === 200 || res.status === 202) {
      const accepted = body.accepted ?? 0;
      totals.accepted += accepted;
      totals.rejected += body.rejected ?? 0;
      if ((body.rejected ?? 0) > 0) {
        totals.rejectedByStatus.item = (totals.rejectedByStatus.item ?? 0) + (body.rejected ?? 0);
      }
      // The answer names the one ingest timestamp of its accepted items: the window they count in.
      const window = Math.floor((body.ingest_ts ?? after) / WINDOW_MS) * WINDOW_MS;
      tracker.accepted(matchId, window, accepted, after, body.ingest_ts);
    } else {
      totals.rejected += n;
      totals.rejectedByStatus[res.status] = (totals.rejectedByStatus[res.status] ?? 0) + n;
    }
  } catch {
    totals.networkErrors++;
    totals.rejected += n;
  } finally {
    inFlight--;
  }
}

// --- run -------------------------------------------------------------------------------------------------------
let stopping = false;
let finished = false;
process.on('SIGINT', () => {
  if (stopping) process.exit(130);
  stopping = true;
  console.log(chalk.yellow('\ninterrupted: stopping early, report follows'));
});

console.log(
  `load: ${rate} reactions/s across ${matchCount} matches for ${durationS} s, ${viewerCount} viewers ` +
    `(ingest ${ingestUrl}, directory ${directoryUrl})` +
    (tokens === undefined
      ? ''
      : `; auth on: ${Math.max(100, Math.ceil(rate / SUBJECT_RATE))} subjects, batches ≤ ${batchMax}`),
);
const connectStarted = Date.now();
try {
  await connectViewers();
} catch (err) {
  for (const v of viewers) v.stop();
  fail(
    `could not connect the viewers through ${directoryUrl}: ${(err as Error).message} (is npm start running?)`,
  );
}
const perNode: Record<string, number> = {};
for (const v of viewers) {
  const node = v.assignment?.node_id ?? '?';
  perNode[node] = (perNode[node] ?? 0) + 1;
}
console.log(
  `${viewers.length} viewers connected in ${((Date.now() - connectStarted) / 1000).toFixed(1)} s: ` +
    Object.entries(perNode)
      .sort()
      .map(([n, c]) => `${n} ${c}`)
      .join(', '),
);

// The "on Kafka" stamps: started before the load, so it reads from the end of the topic as the first batch lands.
let tap: ReactionTap | undefined;
try {
  tap = await startReactionTap({
    brokers: kafkaBrokers,
    registryUrl,
    topic: process.env.REACTIONS_TOPIC ?? TOPICS.reactions,
    matchPrefix: `load-${runId}-`,
    onRecord: (matchId, ingestTs, at) => tracker.onKafka(matchId, ingestTs, at),
  });
} catch (err) {
  console.log(
    chalk.yellow(
      `reactions topic not readable (${(err as Error).message}): the hop "accepted → on Kafka" is not split ` +
        'from the trigger wait (--kafka, --registry)',
    ),
  );
}

const started = Date.now();
const end = started + durationS * 1000;
let due = 0;
let sent = 0;
let matchCursor = 0;
let last = { at: started, accepted: 0, deliveries: 0 };
const series: Record<string, number>[] = [];

function progress(final = false): void {
  const now = Date.now();
  const dt = (now - last.at) / 1000;
  const s = tracker.summary();
  const line = {
    t: Math.round((now - started) / 1000),
    accepted_per_s: Math.round((totals.accepted - last.accepted) / dt),
    deliveries_per_s: Math.round((totals.deliveries - last.deliveries) / dt),
    p50: s.p50,
    p95: s.p95,
    p99: s.p99,
    seen: s.count,
    pending: tracker.pending,
  };
  series.push(line);
  last = { at: now, accepted: totals.accepted, deliveries: totals.deliveries };
  if (!final) {
    console.log(
      `t=${String(line.t).padStart(3)}s  accepted ${String(line.accepted_per_s).padStart(6)}/s  ` +
        `rejected ${totals.rejected}  deliveries ${String(line.deliveries_per_s).padStart(5)}/s  ` +
        `e2e p50/p95/p99 ${s.p50}/${s.p95}/${s.p99} ms (n=${s.count})  not yet seen ${line.pending}  ` +
        `viewers ${viewers.filter((v) => v.assignment).length}`,
    );
  }
}

const progressTimer = setInterval(progress, 1000);
while (!stopping && Date.now() < end) {
  const now = Date.now();
  due = Math.floor(((now - started) / 1000) * rate);
  let owed = due - sent;
  while (owed > 0) {
    const n = Math.min(owed, batchMax);
    if (inFlight >= maxInFlight) {
      totals.skipped += owed;
      sent += owed;
      break;
    }
    const matchId = matches[matchCursor++ % matchCount] ?? '';
    void postBatch(matchId, n);
    sent += n;
    owed -= n;
  }
  await sleep(TICK_MS);
}
const sendSeconds = (Date.now() - started) / 1000;
while (inFlight > 0) await sleep(20);
// Give the last windows time to come through Spark and the fan-out before calling them unseen.
const drainEnd = Date.now() + drainS * 1000;
while (!stopping && tracker.pending > 0 && Date.now() < drainEnd) await sleep(200);
clearInterval(progressTimer);
progress(true);
finished = true;
for (const v of viewers) v.stop();
await tap?.stop().catch(() => {});

const latency = tracker.summary();
const hops = tracker.hops();
const elapsed = (Date.now() - started) / 1000;
const report = {
  kind: 'emostream-load',
  label,
  at: new Date(started).toISOString(),
  config: {
    rate,
    viewers: viewerCount,
    duration_s: durationS,
    matches: matchCount,
    batch: batchMax,
    in_flight: maxInFlight,
    auth: tokens !== undefined,
    durable,
    ingest: ingestUrl,
    directory: directoryUrl,
  },
  reactions: {
    offered: sent,
    accepted: totals.accepted,
    rejected: totals.rejected,
    rejected_by_status: totals.rejectedByStatus,
    skipped_ingest_busy: totals.skipped,
    network_errors: totals.networkErrors,
    requests: totals.requests,
    accepted_per_s: Math.round(totals.accepted / sendSeconds),
  },
  latency_ms: {
    what: 'ingest accepted → first viewer holding a window count that includes the reaction',
    ...latency,
    not_seen_after_drain: tracker.pending,
    seen_beyond_accepted: tracker.unexplained,
  },
  hops_ms: {
    what:
      "each sample split by the stamps on its path (fanout/client/hop-trace.ts): accepted, the reactions' Kafka " +
      "record timestamp, emitted_at (the micro-batch start), aggregated_at (the aggregate's Kafka write), " +
      "routed_at, sent_at, relayed_at, seen; hops sum to the sample's latency",
    ...hops,
    on_kafka_records_seen: tap?.counts.seen ?? 0,
  },
  viewers: {
    connected: viewers.length,
    per_node: perNode,
    disconnects: totals.disconnects,
    snapshots: totals.snapshots,
  },
  deliveries: {
    total: totals.deliveries,
    per_s: Math.round(totals.deliveries / elapsed),
  },
  series,
};
const dir = path.join(repoRoot, 'reports');
mkdirSync(dir, { recursive: true });
const file = path.join(
  dir,
  `load-${label === undefined ? '' : `${label}-`}${report.at.replace(/[:.]/g, '-')}.json`,
);
writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
// The charts beside the report: end-to-end latency as it evolved over the run, and where it went.
writeFileSync(file.replace(/\.json$/, '.svg'), loadChartSvg(report));
writeFileSync(file.replace(/\.json$/, '-hops.svg'), hopsChartSvg([report]));
console.log(
  `\n${chalk.bold('where the time goes')} (${hops.count} reactions; hops sum to each sample's latency, ` +
    `per-hop percentiles do not add up, means do):\n${hopTable(report)}\n\n${splitTable(report)}` +
    (hops.untraced > 0 || Object.keys(hops.missing).length > 0
      ? `\n  without stamps: ${hops.untraced} reactions; missing stamps (time given to the next hop): ` +
        `${JSON.stringify(hops.missing)}`
      : ''),
);
console.log(
  `\n${chalk.bold('done')}: accepted ${totals.accepted} (${report.reactions.accepted_per_s}/s), rejected ${totals.rejected}` +
    `${totals.skipped ? `, ${totals.skipped} not sent (ingest busy)` : ''}\n` +
    `  e2e latency p50 ${latency.p50} ms, p95 ${latency.p95} ms, p99 ${latency.p99} ms, max ${latency.max} ms ` +
    `(n=${latency.count}, not seen ${tracker.pending})\n` +
    `  deliveries ${totals.deliveries} (${report.deliveries.per_s}/s) to ${viewers.length} viewers\n` +
    `  report ${path.relative(process.cwd(), file)} (charts beside it, .svg and -hops.svg)`,
);
process.exit(0);
