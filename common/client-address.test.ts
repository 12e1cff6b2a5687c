import { describe, expect, it } from 'vitest';
import { createClientAddress, normalizeAddress, trustedProxiesVar } from './client-address.ts';

describe('client address', () => {
  it('is the socket address when no proxy is trusted, whatever X-Forwarded-For says', () => {
    const of = createClientAddress([]);
    expect(of('203.0.113.9', '1.2.3.4')).toBe('203.0.113.9');
    expect(of('::ffff:127.0.0.1', undefined)).toBe('127.0.0.1');
  });

  it('takes the right-most untrusted X-Forwarded-For hop only from a trusted proxy', () => {
    const of = createClientAddress(['127.0.0.1/32', '10.0.0.0/8']);
    // From the proxy: the client it saw (the left-most entry is whatever the client claimed).
    expect(of('::ffff:127.0.0.1', '6.6.6.6, 198.51.100.7')).toBe('198.51.100.7');
    expect(of('127.0.0.1', '198.51.100.7, 10.1.2.3')).toBe('198.51.100.7');
    expect(of('127.0.0.1', ['6.6.6.6', '198.51.100.7'])).toBe('198.51.100.7');
    // Not from a proxy: the header is the client's own claim, ignored.
    expect(of('203.0.113.9', '198.51.100.7')).toBe('203.0.113.9');
    // Trusted peer without header, or with garbage: the peer.
    expect(of('127.0.0.1', undefined)).toBe('127.0.0.1');
    expect(of('127.0.0.1', 'not-an-ip')).toBe('127.0.0.1');
  });

  it('parses CIDR lists and names every bad entry', () => {
    expect(trustedProxiesVar.parse('127.0.0.1/32, ::1, 10.0.0.0/8')).toEqual([
      '127.0.0.1/32',
      '::1',
      '10.0.0.0/8',
    ]);
    const r = trustedProxiesVar.safeParse('127.0.0.1/33,localhost');
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.message)).toEqual([
      '"127.0.0.1/33" is not an address or CIDR range',
      '"localhost" is not an address or CIDR range',
    ]);
    expect(normalizeAddress('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(normalizeAddress('::1')).toBe('::1');
  });
});
