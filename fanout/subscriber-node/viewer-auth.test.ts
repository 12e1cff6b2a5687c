import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createClientAddress } from '../../common/client-address.ts';
import { createRateLimiter } from '../../common/rate-limiter.ts';
import { createHandshakeGate } from './viewer-auth.ts';

function request(headers: Record<string, string>, peer = '127.0.0.1'): IncomingMessage {
  return { headers, socket: { remoteAddress: peer } } as unknown as IncomingMessage;
}

function decide(gate: ReturnType<typeof createHandshakeGate>, req: IncomingMessage) {
  let out: { err: string | null | undefined; ok: boolean } | undefined;
  gate(req, (err, ok) => {
    out = { err, ok };
  });
  return out;
}

describe('handshake gate', () => {
  it('checks Origin against the allowlist; a handshake without Origin (not a page) passes', () => {
    const refused: string[] = [];
    const gate = createHandshakeGate({
      origins: ['http://127.0.0.1:8088'],
      limiter: createRateLimiter({ ratePerSec: 0, burst: 1, maxKeys: 1 }),
      clientAddress: createClientAddress([]),
      onRefused: (code) => refused.push(code),
    });
    expect(decide(gate, request({ origin: 'http://127.0.0.1:8088' }))).toEqual({ err: null, ok: true });
    expect(decide(gate, request({}))).toEqual({ err: null, ok: true });
    expect(decide(gate, request({ origin: 'https://evil.example' }))?.ok).toBe(false);
    expect(refused).toEqual(['origin_not_allowed']);
  });

  it('refuses handshakes past the per-address bucket, before looking at anything else', () => {
    let t = 0;
    const refused: string[] = [];
    const gate = createHandshakeGate({
      origins: [],
      limiter: createRateLimiter({ ratePerSec: 10, burst: 5, maxKeys: 100, now: () => t }),
      clientAddress: createClientAddress([]),
      onRefused: (code) => refused.push(code),
    });
    const results = Array.from({ length: 1000 }, () => decide(gate, request({}, '203.0.113.7'))?.ok);
    expect(results.filter(Boolean).length).toBe(5);
    expect(refused.length).toBe(995);
    expect(new Set(refused)).toEqual(new Set(['handshake_rate_limited']));
    // Another address is not hurt; the flooder gets in again once its bucket refilled.
    expect(decide(gate, request({}, '198.51.100.1'))?.ok).toBe(true);
    t += 100;
    expect(decide(gate, request({}, '203.0.113.7'))?.ok).toBe(true);
  });
});
