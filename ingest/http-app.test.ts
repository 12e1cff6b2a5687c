/**
 * The whole ingest over real HTTP, with the narrow Kafka interface faked (records land in an array) and the
 * registry's in-memory client. The same behaviour against real Kafka is in ingest.int.test.ts.
 */
import { MockClient } from '@confluentinc/schemaregistry/dist/mock-schemaregistry-client.js';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { mintToken } from '../common/auth.ts';
import { createAvroSerde, loadSchema } from '../common/avro-serde.ts';
import type { ReactionRecord } from '../common/records.ts';
import { BAD_REQUEST_CONFIG, badRequests } from './bad-requests.fixture.ts';
import { configWithDefaults, type IngestConfig } from './config.ts';
import { createIngest, type Ingest } from './ingest.ts';
import type { KafkaSink } from './kafka-sink.ts';
import type { OutboundRecord } from './reaction-buffer.ts';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field below
type Json = any;
const json = (res: Response): Promise<Json> => res.json();

class FakeSink implements KafkaSink {
  readonly sent: OutboundRecord[] = [];
  failNext = 0;
  /** While set, pings fail (Kafka unreachable). */
  down = false;
  /** While set, sends wait for it. */
  gate: Promise<void> | undefined;
  async connect() {}
  async disconnect() {}
  async ping() {
    if (this.down) throw new Error('broker unavailable');
  }
  async send(records: OutboundRecord[]) {
    if (this.gate) await this.gate;
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('broker unavailable');
    }
    this.sent.push(...records);
  }
}

const running: Ingest[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((i) => i.stop()));
});

async function startIngest(overrides: Partial<IngestConfig> = {}) {
  const sink = new FakeSink();
  const registry = new MockClient({ baseURLs: ['mock://'] });
  const config = configWithDefaults({
    kafkaBrokers: ['127.0.0.1:1'],
    schemaRegistryUrl: 'http://127.0.0.1:1',
    port: 0,
    flushIntervalMs: 20,
    ...BAD_REQUEST_CONFIG,
    ...overrides,
  });
  const ingest = createIngest(config, { sink, registry, logger: pino({ level: 'silent' }) });
  running.push(ingest);
  const { port } = await ingest.start();
  const serde = await createAvroSerde<ReactionRecord>(registry, {
    topic: config.topic,
    schema: await loadSchema('reaction'),
  });
  const base = `http://127.0.0.1:${port}`;
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
    });
  const decoded = () => Promise.all(sink.sent.map((r) => serde.deserialize(r.value)));
  return { ingest, sink, base, post, decoded };
}

const now = () => new Date().toISOString();

describe('ingest HTTP API (fake Kafka)', () => {
  it('POST /emoji answers exactly like the seed API and writes a canonical record', async () => {
    const { post, decoded, sink } = await startIngest({ defaultMatchId: 'seed-match' });
    const res = await post('/emoji', { user_id: 42, emoji_type: 'fire', timestamp: now() });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(Object.keys(body)).toEqual(['status', 'message_id']);
    expect(body.status).toBe('Emoji received');
    await expect.poll(() => sink.sent.length).toBe(1);
    const [rec] = await decoded();
    expect(rec).toMatchObject({
      event_id: body.message_id,
      match_id: 'seed-match',
      user_id: '42',
      emoji: '🔥',
    });
    expect(sink.sent[0]?.key).toBe('42');
  });

  it('answers the web viewer of CORS_ORIGINS across origins on the hot route, preflight included', async () => {
    const page = 'http://127.0.0.1:8088';
    const { base, post, sink } = await startIngest({ corsOrigins: [page] });
    const preflight = await fetch(`${base}/v1/reactions:batch`, {
      method: 'OPTIONS',
      headers: {
        origin: page,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toContain('content-type');
    const reactions = [{ match_id: 'm-1', user_id: 'u-1', emoji: '🔥', timestamp: Date.now() }];
    const res = await post('/v1/reactions:batch', { reactions }, { origin: page });
    expect(res.status).toBe(202);
    expect(res.headers.get('access-control-allow-origin')).toBe(page);
    await expect.poll(() => sink.sent.length).toBe(1);
    const refused = await fetch(`${base}/v1/reactions`, {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(refused.status).toBe(403);
  });

  it('POST /v1/reactions answers 202 and normalises the emoji and timestamp', async () => {
    const { post, decoded, sink } = await startIngest();
    const t = Date.now() - 1000;
    const res = await post('/v1/reactions', {
      match_id: 'm-1',
      user_id: 'u-1',
      emoji: '❤',
      timestamp: Math.floor(t / 1000),
    });
    expect(res.status).toBe(202);
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = await json(res);
    expect(body.status).toBe('accepted');
    await expect.poll(() => sink.sent.length).toBe(1);
    const [rec] = await decoded();
    expect(rec?.emoji).toBe('❤️');
    expect(rec?.client_ts).toBe(Math.floor(t / 1000) * 1000);
    expect(rec?.event_id).toBe(body.event_id);
  });

  it('accepts reaction-button names from the alias table, and suggests names for an unknown one', async () => {
    const { post, decoded, sink } = await startIngest();
    const body = { match_id: 'm-1', user_id: 'u-1', timestamp: Date.now() };
    expect((await post('/v1/reactions', { ...body, emoji: 'like' })).status).toBe(202);
    await expect.poll(() => sink.sent.length).toBe(1);
    expect((await decoded())[0]?.emoji).toBe('👍');

    const res = await post('/v1/reactions', { ...body, emoji: 'thumbsupp' });
    expect(res.status).toBe(400);
    expect((await json(res)).errors).toEqual([
      {
        field: 'emoji',
        code: 'unknown_short_name',
        detail: 'is not a known emoji short name',
        suggestions: ['thumbsup', 'thumbs_up', 'thumb_up'],
      },
    ]);
  });

  it('durable mode answers only after the sink acknowledged', async () => {
    const { post, sink } = await startIngest();
    let open!: () => void;
    sink.gate = new Promise((r) => {
      open = r;
    });
    let answered = false;
    const pending = post('/v1/reactions?durable=true', {
      match_id: 'm',
      user_id: 'u',
      emoji: '👍',
      timestamp: now(),
    }).then((r) => {
      answered = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 150));
    expect(answered).toBe(false);
    expect(sink.sent.length).toBe(0);
    open();
    const res = await pending;
    expect(res.status).toBe(200);
    expect((await json(res)).status).toBe('stored');
    expect(sink.sent.length).toBe(1);
  });

  it('the Durable header works like the query parameter', async () => {
    const { post, sink } = await startIngest();
    const res = await post(
      '/v1/reactions',
      { match_id: 'm', user_id: 'u', emoji: '👍', timestamp: now() },
      { durable: 'true' },
    );
    expect(res.status).toBe(200);
    expect(sink.sent.length).toBe(1);
  });

  it('batch: per-item results, only valid items reach Kafka', async () => {
    const { post, decoded } = await startIngest();
    const good = { match_id: 'm', user_id: 'u', emoji: 'clap', timestamp: now() };
    const res = await post('/v1/reactions:batch?durable=1', {
      reactions: [good, { ...good, emoji: '🔥🔥' }, { ...good, user_id: 7, emoji: ':+1:' }],
    });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.accepted).toBe(2);
    expect(body.rejected).toBe(1);
    expect(body.results.map((r: { status: number }) => r.status)).toEqual([200, 400, 200]);
    expect(body.results[1].errors).toEqual([
      { field: 'reactions[1].emoji', code: 'multiple_emoji', detail: 'must be exactly one emoji' },
    ]);
    const recs = await decoded();
    expect(recs.map((r) => [r.user_id, r.emoji])).toEqual([
      ['u', '👏'],
      ['7', '👍'],
    ]);
    expect(recs.map((r) => r.event_id)).toEqual([body.results[0].event_id, body.results[2].event_id]);
    // The answer names the stamp the accepted records carry (the event time of the swarm windows).
    expect(recs.map((r) => r.ingest_ts)).toEqual([body.ingest_ts, body.ingest_ts]);
  });

  it(`refuses ${badRequests().length} bad requests with the right status and problem, and writes nothing`, async () => {
    const { base, sink, ingest } = await startIngest();
    const table = badRequests();
    expect(table.length).toBeGreaterThanOrEqual(40);
    for (const bad of table) {
      const res = await fetch(base + bad.path, {
        method: 'POST',
        headers: { 'content-type': bad.contentType ?? 'application/json' },
        body: bad.body,
      });
      const text = await res.text();
      expect.soft(res.status, `${bad.name}: ${text}`).toBe(bad.status);
      expect.soft(res.headers.get('content-type'), bad.name).toBe('application/problem+json');
      const problem = JSON.parse(text);
      expect.soft(problem.type, bad.name).toBe(`urn:emostream:problem:${bad.slug}`);
      expect.soft(problem.status, bad.name).toBe(bad.status);
      const got = (problem.errors ?? []).map((e: { field: string; code: string }) => `${e.field}:${e.code}`);
      for (const want of bad.errors ?? []) expect.soft(got, bad.name).toContain(want);
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(ingest.bufferDepth).toBe(0);
    expect(sink.sent).toEqual([]);
  });

  it('rate limit: 429 with Retry-After once a user spent the burst', async () => {
    const { post } = await startIngest({ rateLimitPerSec: 1, rateLimitBurst: 3 });
    const body = { match_id: 'm', user_id: 'spammer', emoji: '🔥', timestamp: now() };
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await post('/v1/reactions', body)).status);
    expect(statuses).toEqual([202, 202, 202, 429, 429]);
    const res = await post('/v1/reactions', body);
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await json(res)).type).toBe('urn:emostream:problem:rate-limited');
    // Another user is unaffected.
    expect((await post('/v1/reactions', { ...body, user_id: 'calm' })).status).toBe(202);
  });

  it('a full buffer answers 503 with Retry-After, and nothing accepted is lost once Kafka recovers', async () => {
    const { post, sink } = await startIngest({ bufferCapacity: 3, maxBatchSize: 2 });
    sink.failNext = 3;
    const body = (u: string) => ({ match_id: 'm', user_id: u, emoji: '🔥', timestamp: now() });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await post('/v1/reactions', body(`u${i}`))).status);
    expect(statuses).toEqual([202, 202, 202, 503, 503]);
    const res = await post('/v1/reactions', body('late'));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    await expect
      .poll(() => sink.sent.map((r) => r.key).sort(), { timeout: 5000 })
      .toEqual(['u0', 'u1', 'u2']);
  });

  it('stop() flushes what was buffered, then refuses with 503', async () => {
    const { post, sink, ingest } = await startIngest({ flushIntervalMs: 500 });
    for (let i = 0; i < 3; i++) {
      expect(
        (await post('/v1/reactions', { match_id: 'm', user_id: `u${i}`, emoji: '🔥', timestamp: now() }))
          .status,
      ).toBe(202);
    }
    expect(sink.sent.length).toBe(0);
    await ingest.stop();
    expect(sink.sent.length).toBe(3);
  });

  it('serves health, readiness, metrics, the OpenAPI document and problem+json 404s', async () => {
    const { base, post } = await startIngest();
    await post('/v1/reactions', { match_id: 'm', user_id: 'u', emoji: '🔥', timestamp: now() });
    await post('/v1/reactions', { match_id: 'm', user_id: 'u', emoji: 'nope', timestamp: now() });
    expect((await fetch(`${base}/health`)).status).toBe(200);
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    expect((await json(ready)).checks).toMatchObject({ kafka: 'ok', schema_registry: 'ok' });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('ingest_reactions_accepted_total{endpoint="reactions"} 1');
    expect(metrics).toContain('ingest_reactions_rejected_total{reason="validation"} 1');
    expect(metrics).toMatch(/ingest_buffer_depth \d+/);
    const openapi = await fetch(`${base}/openapi.yaml`);
    expect(await openapi.text()).toContain('/v1/reactions:batch');
    const missing = await fetch(`${base}/nope`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('application/problem+json');
  });

  it('answers 405 with Allow for a known path asked with another method, 404 for unknown paths', async () => {
    const { base, post, sink } = await startIngest();
    const cases: [string, string, string][] = [
      ['GET', '/v1/reactions', 'POST'],
      ['PUT', '/v1/reactions:batch', 'POST'],
      ['DELETE', '/emoji', 'POST'],
      ['POST', '/health', 'GET, HEAD'],
      ['DELETE', '/ready', 'GET, HEAD'],
      ['PATCH', '/metrics', 'GET, HEAD'],
      ['POST', '/openapi.yaml', 'GET, HEAD'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await fetch(base + path, { method });
      expect.soft(res.status, `${method} ${path}`).toBe(405);
      expect.soft(res.headers.get('allow'), `${method} ${path}`).toBe(allow);
      expect.soft(res.headers.get('content-type')).toBe('application/problem+json');
      expect
        .soft(await json(res))
        .toMatchObject({ type: 'urn:emostream:problem:method-not-allowed', status: 405 });
    }
    expect((await fetch(`${base}/health`, { method: 'HEAD' })).status).toBe(200);
    // Paths match exactly, as the hot dispatch does: these are unknown paths, not wrong methods.
    for (const path of ['/V1/REACTIONS', '/v1/reactions/', '/nope']) {
      const res = await post(path, { match_id: 'm', user_id: 'u', emoji: '🔥', timestamp: now() });
      expect.soft(res.status, path).toBe(404);
      expect.soft(await json(res)).toMatchObject({ type: 'urn:emostream:problem:not-found' });
    }
    expect(sink.sent).toHaveLength(0);
  });

  it('answers /ready 503 as problem+json naming the failing check, without counting a refused reaction', async () => {
    const { base, sink } = await startIngest();
    sink.down = true;
    const res = await fetch(`${base}/ready`);
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.headers.get('retry-after')).toBe('1');
    const body = await json(res);
    expect(body).toMatchObject({ type: 'urn:emostream:problem:not-ready', status: 503, retry_after: 1 });
    expect(body.checks).toMatchObject({ kafka: 'unreachable: broker unavailable', schema_registry: 'ok' });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).not.toContain('ingest_reactions_rejected_total{reason="not-ready"}');
  });
});

describe('ingest HTTP API with INGEST_AUTH=jwt (fake Kafka)', () => {
  const secret = 'http-app-unit-test-secret-of-32-bytes!!';
  const auth = { auth: 'jwt' as const, jwtSecret: secret };

  it('the token subject reacts as itself; another user in the body is 403 and never reaches the sink', async () => {
    const { post, sink, decoded } = await startIngest(auth);
    const token = await mintToken({ secret, subject: 'alice', ttlSec: 60 });
    const bearer = { authorization: `Bearer ${token}` };
    const r = (user: string) => ({ match_id: 'm', user_id: user, emoji: 'fire', timestamp: now() });
    expect((await post('/v1/reactions', r('alice'), bearer)).status).toBe(202);
    const other = await post('/v1/reactions', r('mallory'), bearer);
    expect(other.status).toBe(403);
    expect(((await other.json()) as Json).type).toBe('urn:emostream:problem:user-mismatch');
    const batch = await post('/v1/reactions:batch', { reactions: [r('alice'), r('mallory')] }, bearer);
    expect(batch.status).toBe(403);
    expect((await post('/v1/reactions', r('alice'))).status).toBe(401);
    await new Promise((res) => setTimeout(res, 100));
    expect((await decoded()).map((d) => d.user_id)).toEqual(['alice']);
    expect(sink.sent.length).toBe(1);
  });
});
