/**
 * The client address a per-address limit keys on: the socket's peer address, or, only when that peer is a
 * configured trusted proxy (e.g. the cluster profile's HAProxy), the right-most `X-Forwarded-For` entry that is not
 * itself a trusted proxy. A client cannot pick its own key by sending the header: from an untrusted peer the header
 * is ignored. Trusted proxies are CIDR ranges ({@link trustedProxiesVar}, e.g. `127.0.0.1/32,10.0.0.0/8`).
 */
import { BlockList, isIP } from 'node:net';
import { listVar } from './env.ts';

/** Most `X-Forwarded-For` entries looked at (a longer header is cut, from the right). */
const MAX_FORWARDED_HOPS = 16;

/** `::ffff:1.2.3.4` → `1.2.3.4`, so one client has one key whichever socket family accepted it. */
export function normalizeAddress(address: string): string {
  const a = address.trim();
  if (a.startsWith('::ffff:') && isIP(a.slice(7)) === 4) return a.slice(7);
  return a;
}

function parseCidr(entry: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', bits] = entry.split('/');
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** A comma list of CIDR ranges (or single addresses); every bad entry is named. `[]` when unset. */
export const trustedProxiesVar = listVar.superRefine((entries, ctx) => {
  for (const e of entries)
    if (parseCidr(e) === undefined)
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(e)} is not an address or CIDR range` });
});

/** Finds the client address of a request. */
export type ClientAddressOf = (
  peer: string | undefined,
  forwardedFor: string | string[] | undefined,
) => string;

/** Builds the lookup for a list of trusted proxy ranges (already validated by {@link trustedProxiesVar}). */
export function createClientAddress(trustedProxies: readonly string[]): ClientAddressOf {
  const trusted = new BlockList();
  for (const e of trustedProxies) {
    const c = parseCidr(e);
    if (c !== undefined) trusted.addSubnet(c.address, c.prefix, c.family);
  }
  const isTrusted = (a: string): boolean => {
    const v = isIP(a);
    return v !== 0 && trusted.check(a, v === 4 ? 'ipv4' : 'ipv6');
  };
  return (peer, forwardedFor) => {
    const socket = normalizeAddress(peer ?? '');
    if (trustedProxies.length === 0 || forwardedFor === undefined || !isTrusted(socket)) return socket;
    const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor;
    const hops = header.split(',').slice(-MAX_FORWARDED_HOPS);
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normalizeAddress(hops[i] as string);
      // Garbage in the header from the proxy's client: the last trustworthy address is the proxy's peer.
      if (isIP(hop) === 0) return socket;
      if (!isTrusted(hop)) return hop;
    }
    return socket;
  };
}
