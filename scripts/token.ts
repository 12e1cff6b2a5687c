#!/usr/bin/env tsx
/**
 * `npm run token -- --sub u1 [--ttl 1h] [--matches m1,m2] [--iss I] [--aud A] [--data-dir D]`
 *
 * Mints an HS256 token for the local secret (`AUTH_JWT_SECRET`, else the one `npm start -- --auth` keeps in the
 * data dir, see infra/local/auth-secret.ts) and prints it alone on stdout, so `TOKEN=$(npm run -s token -- --sub u1)`
 * works. `--ttl`: seconds, or a number with s/m/h/d. `--matches`: the matches a viewer may join (default any).
 * `--iss`/`--aud` default to `AUTH_ISSUER`/`AUTH_AUDIENCE` (first entry), as the services check them.
 */
import { argv } from 'zx';
import { mintToken } from '../common/auth.ts';
import { isId } from '../common/ids.ts';
import { localTokenSecret } from '../infra/local/auth-secret.ts';
import { dataDirFrom } from '../infra/local/data-dir.ts';
import { fail } from './cli-options.ts';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

function ttlSeconds(raw: unknown): number {
  const m = /^(\d+)([smhd]?)$/.exec(String(raw ?? '1h'));
  const n = m === null ? Number.NaN : Number(m[1]) * (UNITS[m[2] || 's'] as number);
  if (!Number.isInteger(n) || n < 1 || n > 30 * 86_400) fail('--ttl must be 1s–30d, e.g. 3600, 15m, 1h, 7d');
  return n;
}

const sub = String(argv.sub ?? '');
if (!isId(sub)) fail('usage: npm run token -- --sub <user id> [--ttl 1h] [--matches m1,m2]');
const matches =
  argv.matches === undefined
    ? undefined
    : String(argv.matches)
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
for (const m of matches ?? []) if (!isId(m)) fail(`--matches: ${JSON.stringify(m)} is not a match id`);
const secret = localTokenSecret(dataDirFrom(argv));
if (secret === undefined)
  fail('no local secret yet: start the stack with auth on (npm start -- --auth) or set AUTH_JWT_SECRET');
const audience = argv.aud ?? process.env.AUTH_AUDIENCE?.split(',')[0]?.trim();
const issuer = argv.iss ?? process.env.AUTH_ISSUER;
console.log(
  await mintToken({
    secret,
    subject: sub,
    ttlSec: ttlSeconds(argv.ttl),
    matches,
    issuer: issuer ? String(issuer) : undefined,
    audience: audience ? String(audience) : undefined,
  }),
);
