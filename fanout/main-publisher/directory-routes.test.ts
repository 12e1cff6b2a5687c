/**
 * The directory's HTTP surface over real HTTP (an in-process server on a free port): every refusal is the shared
 * problem+json shape, a known path with an undeclared method is 405 with `Allow`, an unknown path 404.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Directory } from './directory.ts';
import { createDirectoryServer } from './directory-server.ts';

// biome-ignore lint/suspicious/noExplicitAny: problem bodies are checked field by field below
type Json = any;

let base: string;
const directory = new Directory({ maxNodes: 2 });
const PAGE = 'http://127.0.0.1:8088';
const server = createDirectoryServer({ host: '127.0.0.1', port: 0, directory, corsOrigins: [PAGE] });

beforeAll(async () => {
  await server.start();
  base = server.url;
});
afterAll(() => server.stop());

const put = (path: string, body: string, contentType = 'application/json') =>
  fetch(base + path, { method: 'PUT', headers: { 'content-type': contentType }, body });
const report = { cluster_id: 'c1', url: 'http://127.0.0.1:1', viewers: 0, matches: ['team@home'] };

async function expectProblem(res: Response, status: number, slug: string): Promise<Json> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const body: Json = await res.json();
  expect(body).toMatchObject({ type: `urn:emostream:problem:${slug}`, status });
  expect(typeof body.title).toBe('string');
  expect(typeof body.detail).toBe('string');
  return body;
}

describe('directory HTTP API', () => {
  it('answers 503 no-node-available with Retry-After while no node reported', async () => {
    const res = await fetch(`${base}/v1/assign?match_id=m1`);
    const body = await expectProblem(res, 503, 'no-node-available');
    expect(res.headers.get('retry-after')).toBe('1');
    expect(body.retry_after).toBe(1);
  });

  it('takes a report and assigns the node', async () => {
    expect((await put('/v1/nodes/n1', JSON.stringify(report))).status).toBe(204);
    const res = await fetch(`${base}/v1/assign?match_id=team@home`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ node_id: 'n1', cluster_id: 'c1', url: 'http://127.0.0.1:1' });
  });

  it('lets the web viewer of CORS_ORIGINS ask for an assignment across origins, nobody else', async () => {
    const preflight = await fetch(`${base}/v1/assign?match_id=team@home`, {
      method: 'OPTIONS',
      headers: { origin: PAGE, 'access-control-request-method': 'GET' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-methods')).toBe('GET, HEAD');
    const res = await fetch(`${base}/v1/assign?match_id=team@home`, { headers: { origin: PAGE } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(PAGE);
    const other = await fetch(`${base}/v1/assign?match_id=team@home`, {
      headers: { origin: 'http://x.example' },
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('names every bad field of a report, query or path', async () => {
    const bad = await put(
      '/v1/nodes/n1',
      JSON.stringify({ cluster_id: 'Bad', url: 'ftp://x', viewers: -1, matches: ['no spaces'], extra: 1 }),
    );
    const body = await expectProblem(bad, 400, 'validation');
    expect(body.errors.map((e: Json) => `${e.field}:${e.code}`)).toEqual([
      'cluster_id:invalid_characters',
      'url:invalid_format',
      'viewers:out_of_range',
      'matches[0]:invalid_characters',
      'extra:unknown_field',
    ]);
    const missing = await expectProblem(await fetch(`${base}/v1/assign`), 400, 'validation');
    expect(missing.errors).toEqual([{ field: 'match_id', code: 'required', detail: 'is required' }]);
    const twice = await expectProblem(
      await fetch(`${base}/v1/assign?match_id=a&match_id=b`),
      400,
      'validation',
    );
    expect(twice.errors[0]).toMatchObject({ field: 'match_id', code: 'wrong_type' });
    // `new URL` takes IRIs; a node address must be a URI (found by the fuzzer).
    const iri = await put('/v1/nodes/n1', JSON.stringify({ ...report, url: 'https://\u00cf' }));
    expect((await expectProblem(iri, 400, 'validation')).errors[0]).toMatchObject({
      field: 'url',
      code: 'invalid_characters',
    });
    const path = await expectProblem(await put('/v1/nodes/_n', JSON.stringify(report)), 400, 'validation');
    expect(path.errors[0]).toMatchObject({ field: 'node_id', code: 'invalid_characters' });
  });

  it('refuses bodies that are not JSON, malformed or too large', async () => {
    await expectProblem(await put('/v1/nodes/n1', 'x', 'text/plain'), 415, 'unsupported-media-type');
    const malformed = await expectProblem(await put('/v1/nodes/n1', '{'), 400, 'malformed-json');
    expect(malformed.errors[0]).toMatchObject({ field: '', code: 'malformed_json' });
    const big = JSON.stringify({ ...report, matches: Array.from({ length: 60_000 }, (_, i) => `m${i}`) });
    await expectProblem(await put('/v1/nodes/n1', big), 413, 'payload-too-large');
  });

  it('answers 503 directory-full for a new node when full, 404 for deleting an unknown node', async () => {
    expect((await put('/v1/nodes/n2', JSON.stringify(report))).status).toBe(204);
    const full = await put('/v1/nodes/n3', JSON.stringify(report));
    await expectProblem(full, 503, 'directory-full');
    expect(full.headers.get('retry-after')).toBe('5');
    await expectProblem(await fetch(`${base}/v1/nodes/n9`, { method: 'DELETE' }), 404, 'not-found');
    expect((await fetch(`${base}/v1/nodes/n2`, { method: 'DELETE' })).status).toBe(204);
  });

  it('answers 405 with Allow on known paths, 404 on unknown ones', async () => {
    const cases: [string, string, string][] = [
      ['POST', '/v1/assign', 'GET, HEAD'],
      ['DELETE', '/v1/nodes', 'GET, HEAD'],
      // No body and no content type: still a wrong method, not an unsupported media type (found by the fuzzer).
      ['PUT', '/v1/nodes', 'GET, HEAD'],
      ['GET', '/v1/nodes/n1', 'PUT, DELETE'],
      ['POST', '/v1/nodes/n1', 'PUT, DELETE'],
      ['PUT', '/v1/matches/m1/windows', 'GET, HEAD'],
      ['POST', '/health', 'GET, HEAD'],
      ['PUT', '/ready', 'GET, HEAD'],
      ['DELETE', '/metrics', 'GET, HEAD'],
      ['POST', '/openapi.yaml', 'GET, HEAD'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await fetch(base + path, { method });
      expect.soft(res.status, `${method} ${path}`).toBe(405);
      expect.soft(res.headers.get('allow'), `${method} ${path}`).toBe(allow);
      expect.soft(((await res.json()) as Json).type).toBe('urn:emostream:problem:method-not-allowed');
    }
    await expectProblem(await fetch(`${base}/v1/nope`), 404, 'not-found');
    await expectProblem(await fetch(`${base}/v1/matches/m1`), 404, 'not-found');
  });

  it('serves its OpenAPI document', async () => {
    const res = await fetch(`${base}/openapi.yaml`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('/v1/nodes/{node_id}');
  });
});
