/**
 * The pipeline on a secured stack (`npm start -- --secure`): a broker of its own whose only client listener is
 * SASL_SSL with SCRAM-SHA-512 and a certificate of the CA the runtime generated, and a registry behind HTTP basic
 * auth. Ingest, the Spark job (source and sink) and the fan-out each log in as their own user; a reaction POSTed to
 * ingest is counted by Spark and reaches a viewer. Clients without credentials, with a wrong password, or without
 * the CA are refused, and no password is in the Spark plan or any log.
 *
 * Signed tokens are on at the same time (INGEST_AUTH=jwt, VIEWER_AUTH=jwt, as `npm start -- --secure --auth`): the
 * viewer holds a token for its match and the reactions are posted with a token; refused requests are never counted.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../common/auth.ts';
import { createRegistryClient } from '../common/avro-serde.ts';
import { type KafkaSecurity, PLAINTEXT } from '../common/client-security.ts';
import { createKafka, KafkaLogLevel } from '../common/kafka.ts';
import { createLogger } from '../common/logger.ts';
import { createViewer, type Viewer } from '../fanout/index.ts';
import { clientSecurityOf, kafkaUser, type LocalSecurity } from '../infra/local/kafka-security.ts';
import { type Stack, startStack } from '../infra/local/local-stack.ts';
import { PIPELINE_JOB, type Pipeline, startPipeline } from '../infra/local/pipeline-services.ts';
import type { Engine } from '../jobs/spark-sql/control/job-plan.ts';
import { loadJobsConfig } from '../jobs/spark-sql/control/jobs-config.ts';
import { runPaths } from '../jobs/spark-sql/control/run-dir.ts';
import { postBatch } from './test-pipeline.fixture.ts';

const WINDOW_MS = 2000;
/** `E2E_ENGINE=flink`: the same checks with the swarm job on Flink (its Kafka and registry logins). @default spark */
const ENGINE = (process.env.E2E_ENGINE || 'spark') as Engine;
const MATCH = 'secure-final';
let stack: Stack;
let pipeline: Pipeline;
let security: LocalSecurity;
const viewers: Viewer[] = [];
const logger = createLogger('e2e-secure');
const AUTH_ENV = { AUTH_JWT_SECRET: randomBytes(32).toString('hex') };
const token = (subject: string, matches?: string[]) =>
  mintToken({ subject, ttlSec: 600, secret: AUTH_ENV.AUTH_JWT_SECRET, ...(matches ? { matches } : {}) });

beforeAll(async () => {
  stack = await startStack({ secure: true, provision: false });
  if (!stack.security) throw new Error('startStack({ secure: true }) returned no security material');
  security = stack.security;
  pipeline = await startPipeline({
    kafkaBrokers: stack.kafkaBrokers,
    registryUrl: stack.registryUrl,
    security,
    clusters: ['cluster-a'],
    engine: ENGINE,
    ingestEnv: { INGEST_RATE_LIMIT_PER_SEC: '0', LOG_LEVEL: 'warn', INGEST_AUTH: 'jwt', ...AUTH_ENV },
    fanoutEnv: { LOG_LEVEL: 'warn', VIEWER_AUTH: 'jwt', ...AUTH_ENV },
    restart: false,
  });
}, 480_000);

afterAll(async () => {
  for (const v of viewers) v.stop();
  await pipeline?.stop();
  await stack?.stop();
}, 180_000);

/** Lists topics as a client with `security`; resolves with the topics or rejects with the client's error. */
async function listTopicsAs(security: KafkaSecurity): Promise<string[]> {
  const admin = createKafka({
    clientId: 'e2e-secure-probe',
    brokers: stack.kafkaBrokers,
    logger,
    logLevel: KafkaLogLevel.NOTHING,
    security,
    connectionTimeout: 3000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    return await admin.listTopics();
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** The error `p` rejects with (fails the test when it resolves). */
async function refusal(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('the client was let in');
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Every file under `dir`, recursively (logs, plans, status files). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return filesUnder(p);
    return e.isFile() && statSync(p).size < 64 << 20 ? [p] : [];
  });
}

describe('the pipeline on a secured stack', () => {
  it('counts exactly the reactions POSTed with a token in Spark and delivers them to a viewer holding a token, every hop authenticated; refused requests are not counted', async () => {
    const viewer = createViewer({
      directoryUrl: pipeline.directoryUrl,
      matchIds: [MATCH],
      token: await token('secure-viewer', [MATCH]),
    });
    viewer.on('error', () => {});
    viewers.push(viewer);
    await viewer.start();
    // Without a token the node refuses the viewer.
    const anonymous = createViewer({ directoryUrl: pipeline.directoryUrl, matchIds: [MATCH] });
    viewers.push(anonymous);
    await expect(anonymous.start()).rejects.toThrow(/unauthorized/i);

    const batch = async (emoji: string, userId: string, bearer?: string) => {
      const reactions = Array.from({ length: 7 }, () => ({
        match_id: MATCH,
        user_id: userId,
        emoji,
        timestamp: Date.now(),
      }));
      return postBatch(pipeline.ingestUrl, reactions, {
        durable: true,
        ...(bearer === undefined ? {} : { bearer }),
      });
    };
    // Refused, never counted (another emoji, so a leak would show in the counts): no token, another user's body.
    expect((await batch('👏', 'fan-1')).status).toBe(401);
    expect((await batch('👏', 'fan-2', await token('fan-1'))).status).toBe(403);
    const { status, body } = await batch('🔥', 'fan-1', await token('fan-1'));
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.accepted).toBe(7);
    const window = Math.floor(body.ingest_ts / WINDOW_MS) * WINDOW_MS;

    const fire = () => viewer.windows(MATCH).reduce((n, w) => n + (w.counts['🔥'] ?? 0), 0);
    await until(() => fire() === 7, 180_000, 'the viewer holds the 7 reactions');
    expect(viewer.windows(MATCH).find((w) => w.window_start === window)?.counts).toEqual({ '🔥': 7 });
    // Nothing refused arrives later either.
    await sleep(6000);
    expect(viewer.windows(MATCH).flatMap((w) => Object.keys(w.counts))).toEqual(['🔥']);
    expect(fire()).toBe(7);
  }, 240_000);

  it('refuses a Kafka client without credentials, with a wrong password, or that does not trust the CA', async () => {
    const good = clientSecurityOf(security, 'ingest').kafka;
    // The right login works (the test's own control).
    await expect(listTopicsAs(good)).resolves.toContain('emoji.reactions.v1');
    // PLAINTEXT against the TLS listener: the broker drops the connection at the handshake (or never answers).
    expect((await refusal(listTopicsAs(PLAINTEXT))).message).toMatch(/connection|closed|timed? ?out/i);
    // TLS with a wrong password, or a user the broker does not know: refused by SCRAM.
    const sasl = good.sasl ?? {
      mechanism: 'SCRAM-SHA-512' as const,
      username: kafkaUser('ingest'),
      password: '',
    };
    for (const wrong of [
      { ...sasl, password: 'not-the-password' },
      { ...sasl, username: 'nobody' },
    ]) {
      const err = await refusal(listTopicsAs({ ...good, sasl: wrong }));
      expect(err.message).toMatch(/SASL SCRAM SHA512 authentication failed/i);
      expect([err.name, (err.cause as Error | undefined)?.name]).toContain('KafkaJSSASLAuthenticationError');
    }
    // Right password, but only the system's CAs: the broker's certificate is not trusted.
    const { caFile: _ca, ...untrusting } = good;
    expect((await refusal(listTopicsAs(untrusting))).message).toMatch(
      /self[- ]signed|unable to (verify|get)|certificate/i,
    );
  }, 60_000);

  it('refuses registry calls without or with wrong basic-auth credentials', async () => {
    const url = `${stack.registryUrl}/subjects`;
    expect((await fetch(url)).status).toBe(401);
    const basic = (user: string, password: string) => ({
      authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
    });
    expect((await fetch(url, { headers: basic(security.registry.username, 'wrong') })).status).toBe(401);
    const ok = await fetch(url, { headers: basic(security.registry.username, security.registry.password) });
    expect(ok.status).toBe(200);
    // The pipeline registered its schemas through the same login.
    expect(await ok.json()).toEqual(expect.arrayContaining(['emoji.reactions.v1-value']));
    // Refused by Quarkus' permission check (a bare 401), or, behind it, by Apicurio's own ("User is not
    // authenticated"), which basic auth also turns on.
    await expect(
      createRegistryClient(stack.registryUrl, { auth: null, maxRetries: 0 }).getAllSubjects(),
    ).rejects.toThrow(/401|not authenticated/i);
  });

  it('keeps every password out of the Spark plan and every log', () => {
    const plan = JSON.parse(
      readFileSync(
        runPaths(loadJobsConfig({ SPARK_JOBS_STATE: pipeline.sparkState }), PIPELINE_JOB).plan,
        'utf8',
      ),
    ) as { kafka: { security?: unknown } };
    expect(plan.kafka.security).toEqual({
      protocol: 'SASL_SSL',
      sasl: {
        mechanism: 'SCRAM-SHA-512',
        username: kafkaUser('spark'),
        passwordFile: security.users.spark.passwordFile,
      },
      caFile: security.caFile,
    });
    const secrets = [
      ...Object.values(security.users).map((u) => u.password),
      security.registry.password,
      security.keystorePassword,
    ];
    const files = [
      ...filesUnder(pipeline.runDir),
      ...filesUnder(pipeline.sparkState),
      ...Object.values(stack.logs),
    ];
    expect(files.length).toBeGreaterThan(3);
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const secret of secrets) expect(text.includes(secret), `${file} holds a password`).toBe(false);
    }
  });
});
