/**
 * `npm run bench:ingest` — ingest throughput and latency against the real broker, next to a raw node:http stub.
 *
 * Phases, each under the same load from a separate load-generator process (autocannon):
 *   1. stub, single body      — raw node:http server answering 202, doing nothing (the ceiling)
 *   2. POST /v1/reactions     — ingest as a child process, real Kafka + registry
 *   3. stub, batch body       — the stub again with the batch request body
 *   4. POST /v1/reactions:batch (1000 reactions per request)
 * Prints a table (accepted reactions/s, latency p50/p99), checks that the topic holds exactly the reactions
 * ingest accepted, and writes reports/bench-ingest.json and beside it reports/bench-ingest.svg (reactions/s and
 * latency p50/p99 per endpoint, ingest next to the stub). Bounded: about 2 minutes including the stack start.
 *
 * `npm run bench:ingest -- --redraw` draws the chart again from the last report, without measuring.
 *
 * Env: EMOSTREAM_BENCH_KAFKA_BROKERS + EMOSTREAM_BENCH_REGISTRY_URL reuse a running stack (else one is started
 * and stopped); BENCH_SECONDS (per phase, default 12), BENCH_CONNECTIONS (single, default 64),
 * BENCH_BATCH_CONNECTIONS (default 8), BENCH_BATCH_SIZE (default 1000).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { createKafka, ensureTopic, KafkaLogLevel } from '../common/kafka.ts';
import { createLogger } from '../common/logger.ts';
import { freePort } from '../infra/local/ports.ts';
import { coresMeter, processCpuSeconds } from '../infra/local/process-cpu.ts';
import { barChartSvg } from './svg-chart.ts';

const SELF = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const HOST = '127.0.0.1';
const num = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
const SECONDS = num('BENCH_SECONDS', 12);
const WARMUP_SECONDS = 2;
const CONNECTIONS = num('BENCH_CONNECTIONS', 64);
const BATCH_CONNECTIONS = num('BENCH_BATCH_CONNECTIONS', 8);
const BATCH_SIZE = num('BENCH_BATCH_SIZE', 1000);
const DISTINCT_BODIES = 200;

const EMOJI = ['🔥', 'fire', '👍', ':+1:', '👏', 'clap', '❤️', 'heart', '😂', '🎉'];

interface LoadSpec {
  url: string;
  connections: number;
  seconds: number;
  /** Bodies are generated in the load process (they can be megabytes; the environment cannot carry them). */
  body: 'single' | 'batch';
  label: string;
}

interface LoadResult {
  requestsPerSec: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  p50: number;
  p99: number;
  seconds: number;
}

// ---------- load-generator child: runs autocannon, reports ticks on stderr and the result as JSON on stdout ----
async function runLoadChild(): Promise<void> {
  const spec = JSON.parse(process.env.BENCH_LOAD_SPEC as string) as LoadSpec;
  const bodies = spec.body === 'batch' ? batchBodies() : singleBodies();
  const requests = bodies.map((body) => ({
    method: 'POST' as const,
    headers: { 'content-type': 'application/json' },
    body,
  }));
  let counted = 0;
  const ticker = setInterval(() => {
    process.stderr.write(`tick ${counted}\n`);
    counted = 0;
  }, 1000);
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      { url: spec.url, connections: spec.connections, duration: spec.seconds, requests },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', () => {
      counted++;
    });
  });
  clearInterval(ticker);
  const r: LoadResult = {
    requestsPerSec: result['2xx'] / result.duration,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    p50: result.latency.p50,
    p99: result.latency.p99,
    seconds: result.duration,
  };
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

// ---------- orchestration ----------
function nodeChild(args: string[], env: NodeJS.ProcessEnv, stdio: 'pipe' | 'ignore' = 'pipe'): ChildProcess {
  return spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', stdio, stdio],
  });
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

async function waitHttp(url: string, timeoutMs: number, child: ChildProcess): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`process for ${url} exited with ${child.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms`);
}

const STUB_SOURCE = `
const http = require('node:http');
http.createServer((req, res) => {
  req.resume();
  req.on('end', () => { res.writeHead(202, { 'content-type': 'application/json' }); res.end('{"status":"accepted"}'); });
}).listen(Number(process.env.PORT), process.env.HOST);
`;

async function startStub(): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort(HOST);
  const child = nodeChild(['-e', STUB_SOURCE], { PORT: String(port), HOST }, 'ignore');
  // The stub answers 202 to everything, GET included.
  await waitHttp(`http://${HOST}:${port}/`, 10_000, child);
  return { child, port };
}

/**
 * Runs a warm-up (JIT, connection pools, Kafka metadata; not reported) and then the measured load, metering the
 * cores the server process `serverPid` used during the measured part (all its threads: ingest's producer worker
 * included).
 */
async function runLoad(
  spec: LoadSpec,
  serverPid: number | undefined,
): Promise<{ warmup: LoadResult; measured: LoadResult; serverCores: number }> {
  const warmup = await runLoadOnce({ ...spec, seconds: WARMUP_SECONDS, label: `${spec.label} (warm-up)` });
  const meter = coresMeter(() => (serverPid === undefined ? undefined : processCpuSeconds(serverPid)));
  const measured = await runLoadOnce(spec);
  return { warmup, measured, serverCores: meter.stop() };
}

function runLoadOnce(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = nodeChild(['--import', 'tsx', SELF, '--load'], { BENCH_LOAD_SPEC: JSON.stringify(spec) });
    let out = '';
    let second = 0;
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) {
        const m = /^tick (\d+)/.exec(line);
        if (!m) continue;
        second++;
        process.stderr.write(
          `\r  ${spec.label.padEnd(34)} ${String(second).padStart(3)}/${spec.seconds} s  ${Number(m[1]).toLocaleString('en').padStart(9)} responses/s   `,
        );
      }
    });
    child.once('exit', (code) => {
      process.stderr.write('\n');
      const line = out.trim().split('\n').pop();
      if (code !== 0 || !line) reject(new Error(`load generator for ${spec.label} exited with ${code}`));
      else resolve(JSON.parse(line) as LoadResult);
    });
  });
}

function singleBodies(): string[] {
  const ts = new Date().toISOString();
  return Array.from({ length: DISTINCT_BODIES }, (_, i) =>
    JSON.stringify({
      match_id: `match-${i % 4}`,
      user_id: `user-${i}`,
      emoji: EMOJI[i % EMOJI.length],
      timestamp: ts,
    }),
  );
}

function batchBodies(): string[] {
  const ts = Date.now();
  return Array.from({ length: 8 }, (_, b) =>
    JSON.stringify({
      reactions: Array.from({ length: BATCH_SIZE }, (_, i) => ({
        match_id: `match-${i % 4}`,
        user_id: `user-${b}-${i}`,
        emoji: EMOJI[i % EMOJI.length],
        timestamp: ts,
      })),
    }),
  );
}

interface Row {
  phase: string;
  target: string;
  connections: number;
  requestsPerSec: number;
  reactionsPerSec: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** Cores the server process used during the measured load (1 = one core busy throughout). */
  serverCores: number;
  /** Accepted reactions per second per core the server used: the capacity model's ingest figure. */
  reactionsPerCore: number;
}

async function main(): Promise<void> {
  const started = Date.now();
  let stack: { kafkaBrokers: string; registryUrl: string; stop(): Promise<void> } | undefined;
  let brokers = process.env.EMOSTREAM_BENCH_KAFKA_BROKERS;
  let registryUrl = process.env.EMOSTREAM_BENCH_REGISTRY_URL;
  if (!brokers || !registryUrl) {
    process.stderr.write(
      'starting Kafka + schema registry (set EMOSTREAM_BENCH_KAFKA_BROKERS/_REGISTRY_URL to reuse one)\n',
    );
    const { startStack } = await import('../infra/local/local-stack.ts');
    stack = await startStack({ topics: {} });
    brokers = stack.kafkaBrokers;
    registryUrl = stack.registryUrl;
  }
  const topic = `bench.reactions.${Date.now()}`;
  const kafka = createKafka({
    clientId: 'bench-ingest',
    brokers,
    logger: createLogger('bench-ingest'),
    logLevel: KafkaLogLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopic(admin, { topic, partitions: 12, replicationFactor: 1 });

  const rows: Row[] = [];
  let stub: { child: ChildProcess; port: number } | undefined;
  let ingest: ChildProcess | undefined;
  let acceptedTotal = 0;
  let inKafka = 0;
  try {
    stub = await startStub();
    const ingestPort = await freePort(HOST);
    ingest = nodeChild(['--import', 'tsx', 'ingest/main.ts'], {
      KAFKA_BROKERS: brokers,
      SCHEMA_REGISTRY_URL: registryUrl,
      HOST,
      INGEST_PORT: String(ingestPort),
      INGEST_TOPIC: topic,
      INGEST_BATCH_MAX_ITEMS: String(BATCH_SIZE),
      // The limiter stays on the path, set high enough not to refuse the generator's few hundred users.
      INGEST_RATE_LIMIT_PER_SEC: '1000000',
      INGEST_RATE_LIMIT_BURST: '1000000',
      INGEST_BUFFER_CAPACITY: '500000',
      INGEST_MAX_BATCH_BODY_BYTES: String(4 * 1024 * 1024),
      LOG_LEVEL: 'warn',
    });
    ingest.stderr?.pipe(process.stderr);
    await waitHttp(`http://${HOST}:${ingestPort}/ready`, 60_000, ingest);

    const stubUrl = `http://${HOST}:${stub.port}/v1/reactions`;
    const ingestUrl = `http://${HOST}:${ingestPort}`;
    const phases: {
      phase: string;
      target: string;
      url: string;
      body: 'single' | 'batch';
      connections: number;
      items: number;
    }[] = [
      {
        phase: 'single',
        target: 'node:http stub (202, no work)',
        url: stubUrl,
        body: 'single' as const,
        connections: CONNECTIONS,
        items: 1,
      },
      {
        phase: 'single',
        target: 'ingest POST /v1/reactions',
        url: `${ingestUrl}/v1/reactions`,
        body: 'single' as const,
        connections: CONNECTIONS,
        items: 1,
      },
      {
        phase: 'batch',
        target: 'node:http stub (202, no work)',
        url: stubUrl,
        body: 'batch' as const,
        connections: BATCH_CONNECTIONS,
        items: BATCH_SIZE,
      },
      {
        phase: 'batch',
        target: 'ingest POST /v1/reactions:batch',
        url: `${ingestUrl}/v1/reactions:batch`,
        body: 'batch' as const,
        connections: BATCH_CONNECTIONS,
        items: BATCH_SIZE,
      },
    ];
    for (const p of phases) {
      const serverPid = p.url.startsWith(stubUrl) ? stub.child.pid : ingest.pid;
      const { measured: r, serverCores } = await runLoad(
        {
          url: p.url,
          connections: p.connections,
          seconds: SECONDS,
          body: p.body,
          label: `${p.phase}: ${p.target}`,
        },
        serverPid,
      );
      rows.push({
        phase: p.phase,
        target: p.target,
        connections: p.connections,
        requestsPerSec: Math.round(r.requestsPerSec),
        reactionsPerSec: Math.round(r.requestsPerSec * p.items),
        p50: r.p50,
        p99: r.p99,
        non2xx: r.non2xx,
        errors: r.errors + r.timeouts,
        serverCores: Number(serverCores.toFixed(2)),
        reactionsPerCore: serverCores > 0 ? Math.round((r.requestsPerSec * p.items) / serverCores) : 0,
      });
    }
    // Every reaction ingest accepted (its own counter, warm-ups included; the load generator does not count
    // answers still in flight when its time is up) must be in the topic once ingest drained.
    const metrics = await (await fetch(`${ingestUrl}/metrics`)).text();
    for (const m of metrics.matchAll(/^ingest_reactions_accepted_total\{[^}]*\} (\d+)/gm))
      acceptedTotal += Number(m[1]);
    await stop(ingest);
    if (ingest.exitCode !== 0) throw new Error(`ingest exited with ${ingest.exitCode} on SIGTERM`);
    const offsets = await admin.fetchTopicOffsets(topic);
    inKafka = offsets.reduce((sum, o) => sum + Number(o.high), 0);
  } finally {
    await stop(ingest);
    await stop(stub?.child);
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
    await stack?.stop();
  }

  const byTarget = (phase: string, ingestSide: boolean) =>
    rows.find((r) => r.phase === phase && r.target.startsWith('ingest') === ingestSide) as Row;
  const singleRatio = byTarget('single', true).requestsPerSec / byTarget('single', false).requestsPerSec;
  const batchRate = byTarget('batch', true).reactionsPerSec;

  const header = [
    'phase',
    'target',
    'conns',
    'req/s',
    'reactions/s',
    'p50 ms',
    'p99 ms',
    'non-2xx',
    'errors',
    'server cores',
    'reactions/s/core',
  ];
  const table = rows.map((r) => [
    r.phase,
    r.target,
    String(r.connections),
    r.requestsPerSec.toLocaleString('en'),
    r.target.startsWith('ingest')
      ? r.reactionsPerSec.toLocaleString('en')
      : `(${r.reactionsPerSec.toLocaleString('en')})`,
    String(r.p50),
    String(r.p99),
    String(r.non2xx),
    String(r.errors),
    r.serverCores.toFixed(2),
    r.reactionsPerCore.toLocaleString('en'),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => (row[i] as string).length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
  console.log();
  console.log(fmt(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of table) console.log(fmt(row));
  console.log();
  console.log(
    `single POST: ingest / stub = ${(singleRatio * 100).toFixed(0)} % (target ≥ ${SINGLE_TARGET_RATIO * 100} %)`,
  );
  console.log(
    `batch endpoint: ${batchRate.toLocaleString('en')} reactions/s accepted (target ≥ ${BATCH_TARGET.toLocaleString('en')})`,
  );
  console.log(
    `accepted by ingest (warm-ups included): ${acceptedTotal.toLocaleString('en')}; records in the topic after a ` +
      `graceful stop: ${inKafka.toLocaleString('en')}${inKafka === acceptedTotal ? ' (exact)' : ' (MISMATCH)'}`,
  );
  console.log(
    `cores: ${availableParallelism()}, load average at the end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(
    `ingest producer thread: ${process.env.INGEST_PRODUCER_THREAD ?? 'worker'} (INGEST_PRODUCER_THREAD)`,
  );
  console.log(`total time: ${((Date.now() - started) / 1000).toFixed(0)} s`);

  mkdirSync('reports', { recursive: true });
  const report = {
    at: new Date().toISOString(),
    seconds: SECONDS,
    batchSize: BATCH_SIZE,
    rows,
    singleRatio,
    batchRate,
    inKafka,
    acceptedTotal,
  };
  writeFileSync('reports/bench-ingest.json', `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync('reports/bench-ingest.svg', ingestChart(report));
  console.log('report: reports/bench-ingest.json, chart: reports/bench-ingest.svg');
}

/** The single endpoint's target: ingest at half the stub's rate or more. */
const SINGLE_TARGET_RATIO = 0.5;
/** The batch endpoint's target, reactions/s accepted. */
const BATCH_TARGET = 200_000;

/**
 * The chart beside the report: per endpoint, reactions/s and latency p50/p99 of ingest next to the stub, each
 * figure on its own panel with its target. The batch panel shows ingest alone: the stub answers a batch without
 * reading it, so its "reactions/s" (millions) is no rate anything achieves, and on one scale it flattens ingest's
 * bar to nothing.
 */
function ingestChart(report: { seconds: number; batchSize: number; rows: readonly Row[] }): string {
  const { rows } = report;
  const STUB = 'node:http stub (202, no work)';
  const INGEST = 'ingest (real Kafka)';
  const side = (r: Row) => (r.target.startsWith('ingest') ? INGEST : STUB);
  const of = (phase: string, value: (r: Row) => number, only?: string) =>
    Object.fromEntries(
      rows
        .filter((r) => r.phase === phase && (only === undefined || side(r) === only))
        .map((r) => [side(r), value(r)]),
    );
  const group = (phase: string) => {
    const r = rows.find((x) => x.phase === phase && side(x) === INGEST);
    const refused = (r?.non2xx ?? 0) + (r?.errors ?? 0);
    return `${r?.connections ?? '?'} connections${refused > 0 ? `, ingest ${refused} requests not 2xx` : ''}`;
  };
  const stubSingle = rows.find((r) => r.phase === 'single' && side(r) === STUB)?.reactionsPerSec;
  const latency = (phase: string, name: string) => ({
    title: `${name}: latency per request`,
    yLabel: 'ms',
    groups: [
      { name: 'p50', values: of(phase, (r) => r.p50) },
      { name: 'p99', values: of(phase, (r) => r.p99) },
    ],
  });
  return barChartSvg({
    title: `bench:ingest: reactions/s and latency, ${report.seconds} s per phase`,
    series: [STUB, INGEST],
    panels: [
      {
        title: 'single POST: reactions/s',
        yLabel: 'reactions/s',
        groups: [{ name: group('single'), values: of('single', (r) => r.reactionsPerSec) }],
        hLines:
          stubSingle === undefined
            ? []
            : [{ y: stubSingle * SINGLE_TARGET_RATIO, label: 'target: half the stub' }],
      },
      latency('single', 'single POST'),
      {
        title: `batch POST of ${report.batchSize}: reactions/s`,
        yLabel: 'reactions/s',
        groups: [{ name: group('batch'), values: of('batch', (r) => r.reactionsPerSec, INGEST) }],
        hLines: [{ y: BATCH_TARGET, label: `target ${BATCH_TARGET / 1000}k` }],
      },
      latency('batch', `batch POST of ${report.batchSize}`),
    ],
  });
}

if (process.argv.includes('--redraw')) {
  // Only the chart, again, from the last report (after a change to the chart; no load, no Kafka).
  const report = JSON.parse(readFileSync('reports/bench-ingest.json', 'utf8'));
  writeFileSync('reports/bench-ingest.svg', ingestChart(report));
  console.log('chart: reports/bench-ingest.svg (from reports/bench-ingest.json)');
} else if (process.argv.includes('--load')) {
  runLoadChild().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
