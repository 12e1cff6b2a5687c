/**
 * Reactor identity and the limits of ingest against the real Kafka and registry of the test stack: every
 * app-level row of issue #13's "Bad input" list gets its stated answer, nothing of it reaches Kafka (the topic's
 * end offsets are unchanged), the process stays up (a valid token still gets through afterwards), and a token in
 * the URL never appears in ingest's logs.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { mintToken } from '../common/auth.ts';
import { createAvroSerde, createRegistryClient, loadSchema } from '../common/avro-serde.ts';
import { createKafka, ensureTopic, KafkaLogLevel } from '../common/kafka.ts';
import type { ReactionRecord } from '../common/records.ts';
import { configWithDefaults, type IngestConfig } from './config.ts';
import { createIngest, type Ingest } from './ingest.ts';

const brokers = inject('kafkaBrokers');
const registryUrl = inject('registryUrl');
const topic = `ingest-auth-int-${process.pid}-${Date.now()}`;
const silent = pino({ level: 'silent' });
const kafka = createKafka({
  clientId: 'ingest-auth-int',
  brokers,
  logger: silent,
  logLevel: KafkaLogLevel.NOTHING,
});
const admin = kafka.admin();

const SECRET = 'integration-test-secret-at-least-32-bytes';
const ISSUER = 'emostream-test';
const AUDIENCE = 'emostream-ingest';
const enc = (s: string) => new TextEncoder().encode(s);
const nowSec = () => Math.floor(Date.now() / 1000);

// biome-ignore lint/suspicious/noExplicitAny: problem bodies are checked field by field
type Json = any;

/** Every log line ingest wrote, as text (to look for leaked tokens). */
const logLines: string[] = [];
const capturing = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });

beforeAll(async () => {
  await admin.connect();
  await ensureTopic(admin, { topic, partitions: 3, replicationFactor: 1 });
});
afterAll(async () => {
  await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin.disconnect();
});

const running: Ingest[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((i) => i.stop()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** Sum of the topic's end offsets. */
async function endOffsets(): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(p.high), 0);
}

async function startIngest(overrides: Partial<IngestConfig> = {}) {
  const config = configWithDefaults({
    kafkaBrokers: [brokers],
    schemaRegistryUrl: registryUrl,
    port: 0,
    topic,
    flushIntervalMs: 20,
    auth: 'jwt',
    jwtSecret: SECRET,
    issuer: ISSUER,
    audience: [AUDIENCE],
    ...overrides,
  });
  const ingest = createIngest(config, { logger: capturing });
  running.push(ingest);
  const { port } = await ingest.start();
  const base = `http://127.0.0.1:${port}`;
  const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : undefined) as Json };
  };
  return { base, post };
}

const reaction = (user: string, match = 'auth-m') => ({
  match_id: match,
  user_id: user,
  emoji: 'fire',
  timestamp: new Date().toISOString(),
});

const claims = () =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('u1')
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE);
const valid = (sub = 'u1') =>
  mintToken({ secret: SECRET, subject: sub, ttlSec: 300, issuer: ISSUER, audience: AUDIENCE });
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
/** A token for `subject` with the test's issuer and audience, a minute to live, signed with `key` as `alg`/`kid`. */
const signedAs = (alg: string, kid: string, subject: string, key: Parameters<SignJWT['sign']>[0]) =>
  new SignJWT({})
    .setProtectedHeader({ alg, kid })
    .setSubject(subject)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setExpirationTime(nowSec() + 60)
    .sign(key);

describe('ingest with INGEST_AUTH=jwt (real Kafka)', () => {
  it('a valid token: 202, and the record on Kafka carries the token subject as user id', async () => {
    const { post } = await startIngest();
    const before = await endOffsets();
    const r = await post('/v1/reactions', reaction('u-valid'), bearer(await valid('u-valid')));
    expect(r.status).toBe(202);
    const seed = await post(
      '/emoji',
      { user_id: 'u-valid', emoji_type: '🔥', timestamp: Date.now() / 1000 },
      bearer(await valid('u-valid')),
    );
    expect(seed.status).toBe(200);
    await expect.poll(endOffsets, { timeout: 10_000 }).toBe(before + 2);
    const serde = await createAvroSerde<ReactionRecord>(createRegistryClient(registryUrl), {
      topic,
      schema: await loadSchema('reaction'),
      register: false,
    });
    const consumer = kafka.consumer({ groupId: `auth-reader-${Date.now()}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const got: ReactionRecord[] = [];
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          got.push(await serde.deserialize(message.value as Buffer));
          if (got.some((g) => g.event_id === r.body.event_id)) resolve();
        },
      });
    });
    await consumer.disconnect();
    expect(got.find((g) => g.event_id === r.body.event_id)?.user_id).toBe('u-valid');
  });

  it('refuses every bad token 401 with WWW-Authenticate, a token in the URL 400 (never logged), another user 403; nothing reaches Kafka', async () => {
    const { post, base } = await startIngest();
    const before = await endOffsets();
    const none = new UnsecuredJWT({ sub: 'u1', iss: ISSUER, aud: AUDIENCE })
      .setExpirationTime(nowSec() + 60)
      .encode();
    const good = await claims()
      .setExpirationTime(nowSec() + 60)
      .sign(enc(SECRET));
    const [h, , s] = good.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ sub: 'u1', iss: ISSUER, aud: AUDIENCE, exp: nowSec() + 3600, admin: true })).toString('base64url')}.${s}`;
    const rows: { name: string; token: string | undefined; error?: string; description: RegExp }[] = [
      { name: 'no token', token: undefined, description: /./ },
      { name: 'alg none', token: none, error: 'invalid_token', description: /algorithm/ },
      { name: 'forged signature', token: forged, error: 'invalid_token', description: /signature/ },
      {
        name: 'expired',
        token: await claims()
          .setExpirationTime(nowSec() - 120)
          .sign(enc(SECRET)),
        error: 'invalid_token',
        description: /expired/,
      },
      {
        name: 'not yet valid',
        token: await claims()
          .setNotBefore(nowSec() + 600)
          .setExpirationTime(nowSec() + 900)
          .sign(enc(SECRET)),
        error: 'invalid_token',
        description: /not yet valid/,
      },
      {
        name: 'wrong issuer',
        token: await claims()
          .setIssuer('evil')
          .setExpirationTime(nowSec() + 60)
          .sign(enc(SECRET)),
        error: 'invalid_token',
        description: /issuer/,
      },
      {
        name: 'wrong audience',
        token: await claims()
          .setAudience('other')
          .setExpirationTime(nowSec() + 60)
          .sign(enc(SECRET)),
        error: 'invalid_token',
        description: /audience/,
      },
      {
        name: 'sub not a user id',
        token: await claims()
          .setSubject('../../etc/passwd')
          .setExpirationTime(nowSec() + 60)
          .sign(enc(SECRET)),
        error: 'invalid_token',
        description: /sub is not a user id/,
      },
      {
        name: '8 kB token',
        token: `${good}${'A'.repeat(8192 - good.length)}`,
        error: 'invalid_token',
        description: /longer than/,
      },
    ];
    for (const row of rows) {
      for (const path of ['/v1/reactions', '/emoji', '/v1/reactions:batch']) {
        const body = path === '/v1/reactions:batch' ? { reactions: [reaction('u1')] } : reaction('u1');
        const r = await post(path, body, row.token === undefined ? {} : bearer(row.token));
        const what = `${row.name} ${path}`;
        expect.soft(r.status, what).toBe(401);
        expect.soft(r.headers.get('content-type'), what).toBe('application/problem+json');
        expect.soft(r.body?.type, what).toBe('urn:emostream:problem:unauthorized');
        const challenge = r.headers.get('www-authenticate') ?? '';
        expect.soft(challenge, what).toMatch(/^Bearer realm="emostream"/);
        if (row.error !== undefined) {
          expect.soft(challenge, what).toContain(`error="${row.error}"`);
          expect
            .soft(challenge, what)
            .toMatch(new RegExp(`error_description="[^"]*${row.description.source}`));
        } else expect.soft(challenge, what).not.toContain('error=');
      }
    }

    // A valid token in the query string: refused, and not in any log line.
    const inQuery = await valid('u1');
    for (const url of [`/v1/reactions?access_token=${inQuery}`, `/v1/reactions?durable=true&x=${inQuery}`]) {
      const r = await post(url, reaction('u1'), bearer(inQuery));
      expect.soft(r.status, url).toBe(400);
      expect.soft(r.body?.type, url).toBe('urn:emostream:problem:token-in-query');
      expect.soft(JSON.stringify(r.body)).not.toContain(inQuery);
    }
    // Body names another user than the token: 403, single and batch.
    const mine = bearer(await valid('alice'));
    const other = await post('/v1/reactions', reaction('mallory'), mine);
    expect(other.status).toBe(403);
    expect(other.body).toMatchObject({
      type: 'urn:emostream:problem:user-mismatch',
      errors: [{ field: 'user_id', code: 'user_mismatch' }],
    });
    const mixed = await post(
      '/v1/reactions:batch',
      { reactions: [reaction('alice'), reaction('mallory')] },
      mine,
    );
    expect(mixed.status).toBe(403);
    expect(mixed.body.errors[0].field).toBe('reactions[1].user_id');

    // Nothing of it reached Kafka; the process is up and a valid request still gets through.
    await new Promise((r) => setTimeout(r, 300));
    expect(await endOffsets()).toBe(before);
    expect((await fetch(`${base}/health`)).status).toBe(200);
    expect((await post('/v1/reactions', reaction('alice'), mine)).status).toBe(202);
    await expect.poll(endOffsets, { timeout: 10_000 }).toBe(before + 1);
    expect(logLines.length).toBeGreaterThan(0); // the capture works: ingest did log (its start line at least)
    expect(logLines.join('\n')).not.toContain(inQuery);
    expect(logLines.join('\n')).not.toContain(inQuery.split('.')[2]);

    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/emostream_ingest_auth_refused_total\{reason="token_in_query"\} 2/);
    expect(metrics).toMatch(/emostream_ingest_auth_refused_total\{reason="expired"\} 3/);
  });

  it('RS256 keys from a JWKS URL: an RS256 token passes, an HS256 token signed with the public key (algorithm confusion) is refused', async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(pair.publicKey)), alg: 'RS256', kid: 'k1', use: 'sig' };
    const pem = await exportSPKI(pair.publicKey);
    const jwks = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    servers.push(jwks);
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
    const { post } = await startIngest({ jwtSecret: undefined, jwksUrl });
    const before = await endOffsets();
    const rs = await signedAs('RS256', 'k1', 'rs-user', pair.privateKey);
    expect((await post('/v1/reactions', reaction('rs-user'), bearer(rs))).status).toBe(202);
    const confused = await signedAs('HS256', 'k1', 'rs-user', enc(pem));
    const r = await post('/v1/reactions', reaction('rs-user'), bearer(confused));
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toContain('error="invalid_token"');
    await new Promise((res) => setTimeout(res, 300));
    expect(await endOffsets()).toBe(before + 1);
  });

  it('an unreachable or failing JWKS answers 503 with Retry-After and a problem+json body, not 401; nothing reaches Kafka; the token passes once the keys are back', async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(pair.publicKey)), alg: 'ES256', kid: 'e1', use: 'sig' };
    const token = await signedAs('ES256', 'e1', 'es-user', pair.privateKey);
    const expectUnavailable = (r: Awaited<ReturnType<typeof post>>) => {
      expect(r.status).toBe(503);
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(r.headers.get('content-type')).toContain('application/problem+json');
      expect(r.headers.get('www-authenticate')).toBeNull();
      expect(r.body).toMatchObject({ type: 'urn:emostream:problem:keys-unavailable', status: 503 });
    };
    // Nothing listens: the port of a server that was closed again.
    const gone = createServer();
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    const gonePort = (gone.address() as AddressInfo).port;
    await new Promise((r) => gone.close(r));
    const first = await startIngest({
      jwtSecret: undefined,
      jwksUrl: `http://127.0.0.1:${gonePort}/jwks.json`,
    });
    const before = await endOffsets();
    expectUnavailable(await first.post('/v1/reactions', reaction('es-user'), bearer(token)));

    // A JWKS that answers 500, then recovers.
    let up = false;
    const jwks = createServer((_req, res) => {
      if (!up) {
        res.writeHead(500).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    servers.push(jwks);
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    const { post } = await startIngest({
      jwtSecret: undefined,
      jwksUrl: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`,
    });
    expectUnavailable(await post('/v1/reactions', reaction('es-user'), bearer(token)));
    up = true;
    expect((await post('/v1/reactions', reaction('es-user'), bearer(token))).status).toBe(202);
    // With the keys there, a key the set does not hold is the token's fault again: 401.
    const stranger = await signedAs(
      'ES256',
      'unknown',
      'es-user',
      (await generateKeyPair('ES256')).privateKey,
    );
    expect((await post('/v1/reactions', reaction('es-user'), bearer(stranger))).status).toBe(401);
    await new Promise((res) => setTimeout(res, 300));
    expect(await endOffsets()).toBe(before + 1);
  });

  it('limits hold: per subject, per address (X-Forwarded-For only from a trusted proxy) and per match, each 429 with Retry-After', async () => {
    const { post } = await startIngest({
      // Slow refills (one token per 20 s), so the counts below do not depend on how fast the machine is.
      rateLimitPerSec: 0.05,
      rateLimitBurst: 3,
      addressRateLimitPerSec: 0.05,
      addressRateLimitBurst: 10,
      trustedProxies: ['127.0.0.1/32'],
      matchRateLimitPerSec: 0.05,
      matchRateLimitBurst: 5,
    });
    const before = await endOffsets();
    // Subject: one token, its bucket of 3.
    const t = bearer(await valid('sub-1'));
    const xff = (ip: string) => ({ 'x-forwarded-for': ip });
    const subj = [];
    for (let i = 0; i < 5; i++)
      subj.push(await post('/v1/reactions', reaction('sub-1', 'm-subj'), { ...t, ...xff('198.51.100.1') }));
    expect(subj.map((r) => r.status)).toEqual([202, 202, 202, 429, 429]);
    expect(subj[3]?.body).toMatchObject({ type: 'urn:emostream:problem:rate-limited', limiter: 'subject' });
    expect(Number(subj[3]?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    // Address: fresh tokens (rotating users) from one client address behind the trusted proxy: 10 pass.
    const statuses: number[] = [];
    for (let i = 0; i < 14; i++) {
      const r = await post('/v1/reactions', reaction(`rot-${i}`, `m-addr-${i}`), {
        ...bearer(await valid(`rot-${i}`)),
        ...xff('198.51.100.2'),
      });
      statuses.push(r.status);
      if (r.status === 429) expect(r.body.limiter).toBe('address');
    }
    expect(statuses.filter((s) => s === 202).length).toBe(10);
    expect(statuses.slice(10)).toEqual([429, 429, 429, 429]);
    // Another client address behind the same proxy has its own bucket.
    expect(
      (
        await post('/v1/reactions', reaction('rot-x', 'm-addr-x'), {
          ...bearer(await valid('rot-x')),
          ...xff('198.51.100.3'),
        })
      ).status,
    ).toBe(202);

    // Match flood guard: 5 distinct users, each from its own address, into one match; the 6th is refused.
    const flood: number[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await post('/v1/reactions', reaction(`fan-${i}`, 'm-hot'), {
        ...bearer(await valid(`fan-${i}`)),
        ...xff(`203.0.113.${i + 1}`),
      });
      flood.push(r.status);
      if (r.status === 429) expect(r.body.limiter).toBe('match');
    }
    expect(flood).toEqual([202, 202, 202, 202, 202, 429, 429]);
    await expect.poll(endOffsets, { timeout: 10_000 }).toBe(before + 3 + 10 + 1 + 5);
  });
});

describe('ingest with auth off (the seed-compatible default)', () => {
  it('takes reactions without a token, per-address limit off: 300 requests from loopback all pass', async () => {
    const { post } = await startIngest({
      auth: 'off',
      jwtSecret: undefined,
      rateLimitPerSec: 20,
      rateLimitBurst: 40,
    });
    const before = await endOffsets();
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) => post('/v1/reactions', reaction(`open-${i}`))),
    );
    expect(answers.every((a) => a.status === 202)).toBe(true);
    await expect.poll(endOffsets, { timeout: 10_000 }).toBe(before + 300);
  });
});
