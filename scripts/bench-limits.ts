/**
 * `npm run bench:limits` — does rotating user ids still escape ingest's rate limit? Issue #13 found that 10
 * threads sending 3,000 reactions with a fresh user id each got 3,000 × 2xx. This runs that attack against ingest
 * on the real broker and registry, in four set-ups, and counts what Kafka received (the topic's end offsets):
 *
 *   1. auth off (the seed-compatible default): rotating ids, no token — the escape, as before;
 *   2. auth on, one valid token, rotating body user ids — every one is another user than the token's: 403;
 *   3. auth on, the attacker holds a token per user id (3,000 accounts), all from one address, with the
 *      production per-address limit — the address bucket holds;
 *   4. auth on, one honest token hammering — the per-subject bucket holds.
 *
 * Prints a table and writes reports/bench-limits.json. Measures; asserts nothing (the integration test
 * ingest/auth.int.test.ts does).
 *
 * Env: EMOSTREAM_BENCH_KAFKA_BROKERS + EMOSTREAM_BENCH_REGISTRY_URL reuse a running stack (else one is started and
 * stopped). Flags: --requests (per set-up, default 3000), --workers (default 10).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { pino } from 'pino';
import { mintToken } from '../common/auth.ts';
import { createKafka, ensureTopic, KafkaLogLevel } from '../common/kafka.ts';
import { startStack } from '../infra/local/local-stack.ts';
import { configWithDefaults, type IngestConfig } from '../ingest/config.ts';
import { createIngest } from '../ingest/ingest.ts';
import { intOption } from './cli-options.ts';

const REQUESTS = intOption('requests', 3000, 1, 1_000_000);
const WORKERS = intOption('workers', 10, 1, 1000);

const SECRET = randomUUID() + randomUUID();
/** The production configuration of the README's security section (the limits part of it). */
const PRODUCTION_LIMITS: Partial<IngestConfig> = {
  auth: 'jwt',
  jwtSecret: SECRET,
  rateLimitPerSec: 20,
  rateLimitBurst: 40,
  addressRateLimitPerSec: 50,
  addressRateLimitBurst: 100,
  matchRateLimitPerSec: 20_000,
  matchRateLimitBurst: 40_000,
};

interface Row {
  setup: string;
  sent: number;
  accepted: number;
  refused403: number;
  refused401: number;
  limited: Record<string, number>;
  onKafka: number;
  seconds: number;
}

const silent = pino({ level: 'silent' });

async function main(): Promise<void> {
  let stop = async () => {};
  let brokers = process.env.EMOSTREAM_BENCH_KAFKA_BROKERS;
  let registryUrl = process.env.EMOSTREAM_BENCH_REGISTRY_URL;
  if (!brokers || !registryUrl) {
    process.stderr.write('starting Kafka and the registry…\n');
    const stack = await startStack();
    brokers = stack.kafkaBrokers;
    registryUrl = stack.registryUrl;
    stop = () => stack.stop();
  }
  const topic = `bench-limits-${Date.now()}`;
  const kafka = createKafka({
    clientId: 'bench-limits',
    brokers,
    logger: silent,
    logLevel: KafkaLogLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopic(admin, { topic, partitions: 3, replicationFactor: 1 });
  const offsets = async () =>
    (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);

  process.stderr.write(`minting ${REQUESTS} tokens…\n`);
  const pool = await Promise.all(
    Array.from({ length: REQUESTS }, (_, i) =>
      mintToken({ secret: SECRET, subject: `acct-${i}`, ttlSec: 3600 }),
    ),
  );
  const honest = await mintToken({ secret: SECRET, subject: 'honest-1', ttlSec: 3600 });

  const setups: {
    name: string;
    config: Partial<IngestConfig>;
    request: (i: number) => { user: string; token?: string };
  }[] = [
    { name: 'auth off (seed default), rotating ids', config: {}, request: () => ({ user: randomUUID() }) },
    {
      name: 'auth on, one token, rotating body ids',
      config: PRODUCTION_LIMITS,
      request: () => ({ user: randomUUID(), token: honest }),
    },
    {
      name: 'auth on, a token per id, one address',
      config: PRODUCTION_LIMITS,
      request: (i) => ({ user: `acct-${i}`, token: pool[i] }),
    },
    {
      name: 'auth on, one honest token hammering',
      config: { ...PRODUCTION_LIMITS, addressRateLimitPerSec: 0 },
      request: () => ({ user: 'honest-1', token: honest }),
    },
  ];

  const rows: Row[] = [];
  for (const setup of setups) {
    const ingest = createIngest(
      configWithDefaults({
        kafkaBrokers: [brokers],
        schemaRegistryUrl: registryUrl,
        port: 0,
        topic,
        flushIntervalMs: 20,
        ...setup.config,
      }),
      { logger: silent },
    );
    const { port } = await ingest.start();
    const before = await offsets();
    const row: Row = {
      setup: setup.name,
      sent: 0,
      accepted: 0,
      refused403: 0,
      refused401: 0,
      limited: {},
      onKafka: 0,
      seconds: 0,
    };
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: WORKERS }, async () => {
        while (next < REQUESTS) {
          const i = next++;
          const { user, token } = setup.request(i);
          const res = await fetch(`http://127.0.0.1:${port}/v1/reactions`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
            },
            body: JSON.stringify({
              match_id: 'bench-limits',
              user_id: user,
              emoji: '🔥',
              timestamp: Date.now(),
            }),
          });
          row.sent++;
          if (res.status === 202) row.accepted++;
          else if (res.status === 403) row.refused403++;
          else if (res.status === 401) row.refused401++;
          else if (res.status === 429) {
            const limiter = ((await res.json()) as { limiter?: string }).limiter ?? '?';
            row.limited[limiter] = (row.limited[limiter] ?? 0) + 1;
            continue;
          }
          await res.arrayBuffer();
        }
      }),
    );
    row.seconds = (performance.now() - started) / 1000;
    await ingest.stop();
    row.onKafka = (await offsets()) - before;
    rows.push(row);
    process.stderr.write(`${setup.name}: done in ${row.seconds.toFixed(1)} s\n`);
  }
  await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin.disconnect();
  await stop();

  const header = [
    'set-up',
    'sent',
    'seconds',
    'sent/s',
    '2xx',
    '403',
    '429 (limiter)',
    'on Kafka',
    'on Kafka/s',
  ];
  const table = rows.map((r) => [
    r.setup,
    String(r.sent),
    r.seconds.toFixed(1),
    (r.sent / r.seconds).toFixed(0),
    String(r.accepted),
    String(r.refused403),
    Object.entries(r.limited)
      .map(([k, v]) => `${v} (${k})`)
      .join(', ') || '0',
    String(r.onKafka),
    (r.onKafka / r.seconds).toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => (t[i] as string).length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
  console.log(line(header));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const t of table) console.log(line(t));
  mkdirSync('reports', { recursive: true });
  writeFileSync(
    'reports/bench-limits.json',
    `${JSON.stringify({ at: new Date().toISOString(), requests: REQUESTS, workers: WORKERS, limits: { ...PRODUCTION_LIMITS, jwtSecret: undefined }, rows }, null, 2)}\n`,
  );
  console.log('\nreport: reports/bench-limits.json');
}

await main();
