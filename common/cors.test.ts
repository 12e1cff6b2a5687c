import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corsOriginsVar, createCors, DEFAULT_CORS_ORIGINS } from './cors.ts';
import { ConfigError, fromEnv, parseEnv } from './env.ts';

const spec = { origins: fromEnv('CORS_ORIGINS', corsOriginsVar) };
const ALLOWED = 'http://127.0.0.1:8088';

describe('CORS_ORIGINS', () => {
  it('defaults to the web viewer origin and takes an empty value as none', () => {
    expect(parseEnv('t', spec, {}).origins).toEqual([...DEFAULT_CORS_ORIGINS]);
    expect(parseEnv('t', spec, { CORS_ORIGINS: '' }).origins).toEqual([]);
    expect(parseEnv('t', spec, { CORS_ORIGINS: 'https://a.example, http://b:81' }).origins).toEqual([
      'https://a.example',
      'http://b:81',
    ]);
  });

  it('names every entry that is not an origin', () => {
    let error: unknown;
    try {
      parseEnv('t', spec, { CORS_ORIGINS: 'http://ok:1,http://x/path,*,ftp://f' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('"http://x/path" is not an origin');
    expect(message).toContain('"*" is not an origin');
    expect(message).toContain('"ftp://f" is not an origin');
    expect(message).not.toContain('"http://ok:1"');
  });
});

describe('createCors', () => {
  let server: Server;
  let base = '';
  beforeAll(async () => {
    const cors = createCors({ origins: [ALLOWED], headers: ['content-type', 'durable'] });
    server = createServer((req, res) => {
      if (cors(req, res)) return;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('routed');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('answers the preflight of a listed origin with what it may send', async () => {
    const res = await fetch(base, {
      method: 'OPTIONS',
      headers: { origin: ALLOWED, 'access-control-request-method': 'POST' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')).toBe('content-type, durable');
    expect(res.headers.get('vary')).toBe('Origin');
  });

  it('lets a listed origin read the answer of a routed request', async () => {
    const res = await fetch(base, { headers: { origin: ALLOWED } });
    expect(await res.text()).toBe('routed');
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
  });

  it('refuses the preflight of another origin with a problem naming the variable', async () => {
    const res = await fetch(base, {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(((await res.json()) as { detail: string }).detail).toContain('CORS_ORIGINS');
  });

  it('routes requests of other origins and without one, granting nothing', async () => {
    const other = await fetch(base, { headers: { origin: 'http://evil.example' } });
    expect(await other.text()).toBe('routed');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const none = await fetch(base);
    expect(await none.text()).toBe('routed');
    expect(none.headers.get('vary')).toBeNull();
  });
});
