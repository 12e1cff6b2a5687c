import { createLocalJWKSet, exportJWK, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type AuthConfig,
  authConfigProblem,
  createTokenVerifier,
  MAX_TOKEN_LENGTH,
  mintToken,
  TokenError,
  type TokenVerifier,
  wwwAuthenticate,
} from './auth.ts';

const SECRET = 'a-local-test-secret-of-at-least-32-bytes';
const base: AuthConfig = { jwtSecret: SECRET, audience: [], clockSkewSec: 30 };
const enc = (s: string) => new TextEncoder().encode(s);
const nowSec = () => Math.floor(Date.now() / 1000);

async function refusal(verifier: TokenVerifier, token: string): Promise<TokenError> {
  const err = await verifier.verify(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TokenError);
  return err as TokenError;
}

describe('token verifier, HS256', () => {
  const verifier = createTokenVerifier({ ...base, issuer: 'emostream-local', audience: ['emostream'] });
  const good = () =>
    new SignJWT({ matches: ['m1', 'm2'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('u1')
      .setIssuer('emostream-local')
      .setAudience('emostream')
      .setExpirationTime(nowSec() + 60);

  it('accepts a valid token: subject, matches, expiry', async () => {
    const v = await verifier.verify(await good().sign(enc(SECRET)));
    expect(v.subject).toBe('u1');
    expect([...(v.matches ?? [])]).toEqual(['m1', 'm2']);
    expect(v.expiresAt).toBeGreaterThan(Date.now());
  });

  it('mintToken makes tokens it accepts', async () => {
    const t = await mintToken({
      secret: SECRET,
      subject: 'u9',
      ttlSec: 60,
      issuer: 'emostream-local',
      audience: 'emostream',
    });
    expect((await verifier.verify(t)).subject).toBe('u9');
  });

  it('refuses alg none, a forged signature, a wrong secret', async () => {
    const none = new UnsecuredJWT({ sub: 'u1', iss: 'emostream-local', aud: 'emostream' })
      .setExpirationTime(nowSec() + 60)
      .encode();
    expect((await refusal(verifier, none)).reason).toBe('algorithm');
    const t = await good().sign(enc(SECRET));
    const [h, , s] = t.split('.');
    const forgedPayload = Buffer.from(
      JSON.stringify({ sub: 'admin', iss: 'emostream-local', aud: 'emostream', exp: nowSec() + 60 }),
    ).toString('base64url');
    expect((await refusal(verifier, `${h}.${forgedPayload}.${s}`)).reason).toBe('signature');
    const other = await good().sign(enc('another-secret-of-at-least-32-bytes!!'));
    expect((await refusal(verifier, other)).reason).toBe('signature');
  });

  it('refuses expired and not-yet-valid tokens beyond the skew, accepts within it', async () => {
    const expired = await good()
      .setExpirationTime(nowSec() - 31 - 5)
      .sign(enc(SECRET));
    expect((await refusal(verifier, expired)).reason).toBe('expired');
    const early = await good()
      .setNotBefore(nowSec() + 120)
      .sign(enc(SECRET));
    expect((await refusal(verifier, early)).reason).toBe('not_yet_valid');
    const justExpired = await good()
      .setExpirationTime(nowSec() - 10)
      .sign(enc(SECRET));
    expect((await verifier.verify(justExpired)).subject).toBe('u1');
  });

  it('refuses a wrong issuer, a wrong audience, a token without exp', async () => {
    expect((await refusal(verifier, await good().setIssuer('evil').sign(enc(SECRET)))).reason).toBe('issuer');
    expect((await refusal(verifier, await good().setAudience('other').sign(enc(SECRET)))).reason).toBe(
      'audience',
    );
    const noExp = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('u1')
      .setIssuer('emostream-local')
      .setAudience('emostream')
      .sign(enc(SECRET));
    expect((await refusal(verifier, noExp)).reason).toBe('claim');
  });

  it('refuses a sub that is not a user id, and a bad matches claim', async () => {
    for (const sub of ['../etc', 'a b', 'x'.repeat(65), '-flag']) {
      const t = await good().setSubject(sub).sign(enc(SECRET));
      expect((await refusal(verifier, t)).reason, sub).toBe('subject');
    }
    const badMatches = await new SignJWT({ matches: ['ok', 'not ok'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('u1')
      .setIssuer('emostream-local')
      .setAudience('emostream')
      .setExpirationTime(nowSec() + 60)
      .sign(enc(SECRET));
    expect((await refusal(verifier, badMatches)).reason).toBe('matches');
  });

  it('refuses an oversized token unparsed, garbage and an empty token', async () => {
    expect((await refusal(verifier, 'e'.repeat(8192))).reason).toBe('too_long');
    expect(MAX_TOKEN_LENGTH).toBeLessThan(8192);
    expect((await refusal(verifier, 'not.a.jwt')).reason).toBe('malformed');
    expect((await refusal(verifier, '')).reason).toBe('missing');
  });
});

describe('token verifier, RS256 keys (JWKS)', () => {
  let verifier: TokenVerifier;
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  let publicPem: string;
  beforeAll(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    privateKey = pair.privateKey;
    publicPem = await exportSPKI(pair.publicKey);
    const jwk = { ...(await exportJWK(pair.publicKey)), alg: 'RS256', kid: 'k1' };
    verifier = createTokenVerifier(
      { audience: [], clockSkewSec: 30 },
      { keys: createLocalJWKSet({ keys: [jwk] }) },
    );
  });

  it('accepts an RS256 token signed by the key', async () => {
    const t = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setSubject('viewer-1')
      .setExpirationTime(nowSec() + 60)
      .sign(privateKey);
    expect((await verifier.verify(t)).subject).toBe('viewer-1');
  });

  it('refuses an HS256 token whose HMAC secret is the public key (algorithm confusion)', async () => {
    for (const secret of [publicPem, publicPem.trim()]) {
      const t = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
        .setSubject('admin')
        .setExpirationTime(nowSec() + 60)
        .sign(enc(secret));
      expect((await refusal(verifier, t)).reason).toBe('algorithm');
    }
  });
});

describe('auth settings and headers', () => {
  it('needs exactly one key source', () => {
    expect(authConfigProblem({ audience: [], clockSkewSec: 30 })).toMatch(/AUTH_JWT_SECRET/);
    expect(authConfigProblem({ ...base, jwksUrl: 'http://x' })).toMatch(/only one/);
    expect(authConfigProblem(base)).toBeUndefined();
    expect(() => createTokenVerifier({ audience: [], clockSkewSec: 30 })).toThrow(/auth is on/);
  });

  it('WWW-Authenticate follows RFC 6750: no error without a token, code and description with one', () => {
    expect(wwwAuthenticate(new TokenError('invalid_request', 'missing', 'no token'))).toBe(
      'Bearer realm="emostream"',
    );
    expect(wwwAuthenticate(new TokenError('invalid_token', 'expired', 'the "token" expired'))).toBe(
      `Bearer realm="emostream", error="invalid_token", error_description="the 'token' expired"`,
    );
    // Non-ASCII (the id rule's en dash) would make node:http throw while writing the header.
    const sub = wwwAuthenticate(new TokenError('invalid_token', 'subject', 'sub must be 1–64 chars \\ ok'));
    expect(sub).toBe(
      `Bearer realm="emostream", error="invalid_token", error_description="sub must be 1-64 chars ' ok"`,
    );
  });
});
