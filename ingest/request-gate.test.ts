import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createTokenVerifier, mintToken } from '../common/auth.ts';
import { createClientAddress } from '../common/client-address.ts';
import { HttpProblem } from '../common/problem.ts';
import { createRateLimiter } from '../common/rate-limiter.ts';
import { createIngestMetrics } from './metrics.ts';
import { createRequestGate, hasTokenInQuery } from './request-gate.ts';

const SECRET = 'request-gate-unit-test-secret-32-bytes!!';

function request(url: string, headers: Record<string, string> = {}, peer = '127.0.0.1'): IncomingMessage {
  return { url, headers, socket: { remoteAddress: peer } } as unknown as IncomingMessage;
}

async function refusal(p: Promise<unknown>): Promise<HttpProblem> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HttpProblem);
  return err as HttpProblem;
}

describe('token in the query string', () => {
  it('is found by parameter name or by a JWT-shaped value, and only then', () => {
    expect(hasTokenInQuery('/v1/reactions?access_token=x')).toBe(true);
    expect(hasTokenInQuery('/v1/reactions?durable=1&TOKEN=x')).toBe(true);
    expect(hasTokenInQuery('/v1/reactions?q=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2ln')).toBe(true);
    expect(hasTokenInQuery('/v1/reactions?durable=true')).toBe(false);
    expect(hasTokenInQuery('/v1/reactions')).toBe(false);
    expect(hasTokenInQuery(undefined)).toBe(false);
  });
});

describe('request gate', () => {
  const metrics = createIngestMetrics(() => 0, 1);
  const open = (rate: number, burst: number, proxies: string[] = []) =>
    createRequestGate({
      addressLimiter: createRateLimiter({ ratePerSec: rate, burst, maxKeys: 100 }),
      clientAddress: createClientAddress(proxies),
      metrics,
    });

  it('auth off, address limit off: lets everything through without a subject', async () => {
    const gate = open(0, 1);
    for (let i = 0; i < 1000; i++) expect(await gate(request('/v1/reactions'))).toBeUndefined();
  });

  it('per-address limit: 429 naming the limiter once the bucket is empty; other addresses unaffected', async () => {
    let t = 0;
    const gate = createRequestGate({
      addressLimiter: createRateLimiter({ ratePerSec: 1, burst: 3, maxKeys: 100, now: () => t }),
      clientAddress: createClientAddress(['10.0.0.1/32']),
      metrics,
    });
    for (let i = 0; i < 3; i++) await gate(request('/v1/reactions', {}, '203.0.113.1'));
    const p = await refusal(gate(request('/v1/reactions', {}, '203.0.113.1')));
    expect(p.status).toBe(429);
    expect(p.toJSON()).toMatchObject({ limiter: 'address', retry_after: 1 });
    // Through the trusted proxy, the forwarded client has its own bucket; a spoofed header from a client does not.
    expect(
      await gate(request('/v1/reactions', { 'x-forwarded-for': '198.51.100.5' }, '10.0.0.1')),
    ).toBeUndefined();
    expect(
      (await refusal(gate(request('/v1/reactions', { 'x-forwarded-for': '198.51.100.6' }, '203.0.113.1'))))
        .status,
    ).toBe(429);
    t += 1000;
    expect(await gate(request('/v1/reactions', {}, '203.0.113.1'))).toBeUndefined();
  });

  it('auth on: the subject of a valid token; 401 with WWW-Authenticate otherwise; 400 for a token in the URL', async () => {
    const gate = createRequestGate({
      verifier: createTokenVerifier({ jwtSecret: SECRET, audience: [], clockSkewSec: 30 }),
      addressLimiter: createRateLimiter({ ratePerSec: 0, burst: 1, maxKeys: 1 }),
      clientAddress: createClientAddress([]),
      metrics,
    });
    const token = await mintToken({ secret: SECRET, subject: 'u42', ttlSec: 60 });
    expect(await gate(request('/v1/reactions', { authorization: `Bearer ${token}` }))).toBe('u42');
    expect(await gate(request('/v1/reactions', { authorization: `bearer  ${token}` }))).toBe('u42');
    const none = await refusal(gate(request('/v1/reactions')));
    expect(none.status).toBe(401);
    expect(none.headers?.['www-authenticate']).toBe('Bearer realm="emostream"');
    const basic = await refusal(gate(request('/v1/reactions', { authorization: 'Basic dTE6cA==' })));
    expect(basic.headers?.['www-authenticate']).toContain('error="invalid_request"');
    const huge = await refusal(
      gate(request('/v1/reactions', { authorization: `Bearer ${'a'.repeat(8192)}` })),
    );
    expect(huge.status).toBe(401);
    expect(huge.headers?.['www-authenticate']).toContain('error="invalid_token"');
    const inUrl = await refusal(
      gate(request(`/v1/reactions?access_token=${token}`, { authorization: `Bearer ${token}` })),
    );
    expect(inUrl.status).toBe(400);
    expect(JSON.stringify(inUrl.toJSON())).not.toContain(token);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/emostream_ingest_auth_refused_total\{reason="missing"\} 1/);
    expect(text).toMatch(/emostream_ingest_auth_refused_total\{reason="token_in_query"\} 1/);
  });
});
