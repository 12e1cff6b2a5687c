/**
 * The one token verifier of EmoStream: ingest checks reactors' `Authorization: Bearer <JWT>` with it, subscriber
 * nodes check viewers' Socket.IO handshake `auth.token`. Configuration comes from the environment through
 * {@link AUTH_ENV} (`common/env.ts`); each process builds one verifier ({@link createTokenVerifier}) at start-up.
 *
 * - HS256 with a shared secret (`AUTH_JWT_SECRET`, at least 32 bytes), or RS256/ES256 keys from a JWKS URL
 *   (`AUTH_JWKS_URL`, fetched and cached by jose). Exactly one of the two when auth is on.
 * - Algorithms are fixed by the key kind, never taken from the token: `none` is never accepted, and a token whose
 *   header says HS256 is refused when the keys are asymmetric (so an attacker cannot sign with the public key as
 *   an HMAC secret).
 * - `iss` and `aud` are required when configured; `exp` is always required; `nbf`/`exp` allow
 *   `AUTH_CLOCK_SKEW_SEC` of skew.
 * - `sub` must be an id of `common/ids.ts` (it becomes the reaction's user id, a Kafka key); `matches`, when
 *   present, is an array of match ids (the matches a viewer may join).
 * - A token longer than {@link MAX_TOKEN_LENGTH} is refused before it is parsed.
 *
 * Refusals are {@link TokenError}s whose `description` is safe to send back (RFC 6750 `error_description`): it
 * never contains the token.
 */
import {
  createRemoteJWKSet,
  type JWTPayload,
  type JWTVerifyGetKey,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
} from 'jose';
import * as z from 'zod';
import { fromEnv, intVar, listVar, urlVar } from './env.ts';
import { ID_RULE, isId } from './ids.ts';

/** Longest token accepted, in characters: a real one is a few hundred; 8 kB headers are refused unparsed. */
export const MAX_TOKEN_LENGTH = 4096;

/** Most match ids a `matches` claim may list. */
export const MAX_MATCHES_CLAIM = 256;

/** Asymmetric algorithms accepted with a JWKS (the HS family never is). */
const ASYMMETRIC_ALGORITHMS = ['RS256', 'ES256'] as const;

/**
 * Settings of the verifier, shared by ingest and the subscriber nodes. Whether a service asks for a token at all
 * is its own switch (`INGEST_AUTH`, `VIEWER_AUTH`); these say how a token is checked.
 */
export const AUTH_ENV = {
  /** HS256 shared secret (≥ 32 bytes). Exclusive with `AUTH_JWKS_URL`. @default none */
  jwtSecret: fromEnv('AUTH_JWT_SECRET', z.string().min(32, 'must be at least 32 bytes').optional()),
  /** JWKS of the RS256/ES256 signing keys. Exclusive with `AUTH_JWT_SECRET`. @default none */
  jwksUrl: fromEnv('AUTH_JWKS_URL', urlVar.optional()),
  /** Required `iss`. @default none (not checked) */
  issuer: fromEnv('AUTH_ISSUER', z.string().min(1).optional()),
  /** Required `aud` (comma list: any of them). @default [] (not checked) */
  audience: fromEnv('AUTH_AUDIENCE', listVar),
  /** Clock skew allowed on `exp` and `nbf`, seconds. @default 30 */
  clockSkewSec: fromEnv('AUTH_CLOCK_SKEW_SEC', intVar(0, 600, 30)),
};

/** The verifier's settings (the parsed {@link AUTH_ENV}). */
export interface AuthConfig {
  jwtSecret?: string;
  jwksUrl?: string;
  issuer?: string;
  audience: string[];
  clockSkewSec: number;
}

/** What a valid token says. */
export interface VerifiedToken {
  /** The user (reactor or viewer) id, from `sub`. */
  subject: string;
  /** Matches the viewer may join (`matches` claim); undefined = any. */
  matches?: ReadonlySet<string>;
  /** Expiry, epoch ms. */
  expiresAt: number;
}

/** RFC 6750 error codes. */
export type TokenErrorCode = 'invalid_request' | 'invalid_token';

/** A refused token; `description` is safe to return (no token material). */
export class TokenError extends Error {
  override readonly name = 'TokenError';
  constructor(
    readonly code: TokenErrorCode,
    /** Short machine-readable reason, e.g. `expired` (metric label). */
    readonly reason: string,
    readonly description: string,
  ) {
    super(description);
  }
}

/**
 * The signing keys could not be had (JWKS unreachable, timed out, not 200, not a key set): not the client's fault,
 * so not a 401. Ingest answers 503 with Retry-After, a subscriber node refuses the handshake as `unavailable`.
 */
export class KeysUnavailableError extends Error {
  override readonly name = 'KeysUnavailableError';
  /** Seconds a client should wait: jose refetches a failed JWKS at the next token. */
  readonly retryAfterSec = 5;
  constructor(cause: unknown) {
    super('the signing keys could not be fetched', { cause });
  }
}

/**
 * A JWKS key function whose fetch failures are {@link KeysUnavailableError}s. What the token causes (no key with its
 * `kid`, several, an unsupported key) stays a jose error, and so a 401.
 */
function keysOrUnavailable(jwks: JWTVerifyGetKey): JWTVerifyGetKey {
  return async (header, token) => {
    try {
      return await jwks(header, token);
    } catch (err) {
      const tokenCaused =
        err instanceof joseErrors.JOSEError &&
        !(err instanceof joseErrors.JWKSTimeout) &&
        !(err instanceof joseErrors.JWKSInvalid) &&
        // jose's plain JOSEError here is "Expected 200 OK" or "Failed to parse the JSON Web Key Set".
        err.constructor !== joseErrors.JOSEError;
      throw tokenCaused ? err : new KeysUnavailableError(err);
    }
  };
}

/** Verifies tokens with one configuration; built once per process. */
export interface TokenVerifier {
  /** Rejects with a {@link TokenError} (the token is refused) or a {@link KeysUnavailableError} (try later). */
  verify(token: string): Promise<VerifiedToken>;
}

/** Checks the settings: exactly one key source. Returns the problem in words, or undefined. */
export function authConfigProblem(config: AuthConfig): string | undefined {
  if (config.jwtSecret === undefined && config.jwksUrl === undefined)
    return 'set AUTH_JWT_SECRET (HS256) or AUTH_JWKS_URL (RS256/ES256)';
  if (config.jwtSecret !== undefined && config.jwksUrl !== undefined)
    return 'set only one of AUTH_JWT_SECRET and AUTH_JWKS_URL';
  return undefined;
}

/** Options of {@link createTokenVerifier}. */
export interface TokenVerifierOptions {
  /** Keys instead of `jwksUrl` (tests, or a local JWKS). */
  keys?: JWTVerifyGetKey;
  /** Clock, epoch ms (tests). */
  now?: () => number;
}

const matchesClaim = z.array(z.string().refine(isId)).max(MAX_MATCHES_CLAIM);

function describe(err: unknown): TokenError {
  if (err instanceof TokenError) return err;
  if (err instanceof KeysUnavailableError) throw err;
  if (err instanceof joseErrors.JWTExpired)
    return new TokenError('invalid_token', 'expired', 'the token expired');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    const claim = err.claim;
    if (claim === 'nbf')
      return new TokenError('invalid_token', 'not_yet_valid', 'the token is not yet valid');
    if (claim === 'iss') return new TokenError('invalid_token', 'issuer', 'the token has the wrong issuer');
    if (claim === 'aud')
      return new TokenError('invalid_token', 'audience', 'the token has the wrong audience');
    return new TokenError('invalid_token', 'claim', `the token's ${claim} claim is invalid`);
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed)
    return new TokenError(
      'invalid_token',
      'algorithm',
      'the token is signed with an algorithm not accepted here',
    );
  if (err instanceof joseErrors.JWSSignatureVerificationFailed)
    return new TokenError('invalid_token', 'signature', 'the token signature does not verify');
  if (err instanceof joseErrors.JWKSNoMatchingKey)
    return new TokenError('invalid_token', 'unknown_key', 'no signing key matches the token');
  return new TokenError('invalid_token', 'malformed', 'the token is malformed');
}

/** Builds the verifier; throws when the settings name no key source (see {@link authConfigProblem}). */
export function createTokenVerifier(config: AuthConfig, options: TokenVerifierOptions = {}): TokenVerifier {
  const problem = options.keys === undefined ? authConfigProblem(config) : undefined;
  if (problem !== undefined) throw new Error(`auth is on but ${problem}`);
  const symmetric = options.keys === undefined && config.jwtSecret !== undefined;
  const key: Uint8Array | JWTVerifyGetKey = symmetric
    ? new TextEncoder().encode(config.jwtSecret)
    : (options.keys ?? keysOrUnavailable(createRemoteJWKSet(new URL(config.jwksUrl as string))));
  const verifyOptions = {
    algorithms: symmetric ? ['HS256'] : [...ASYMMETRIC_ALGORITHMS],
    issuer: config.issuer,
    audience: config.audience.length > 0 ? config.audience : undefined,
    clockTolerance: config.clockSkewSec,
    requiredClaims: ['exp', 'sub'],
  };
  return {
    async verify(token) {
      if (token.length === 0) throw new TokenError('invalid_request', 'missing', 'no token');
      if (token.length > MAX_TOKEN_LENGTH)
        throw new TokenError(
          'invalid_token',
          'too_long',
          `the token is longer than ${MAX_TOKEN_LENGTH} characters`,
        );
      let payload: JWTPayload;
      try {
        const opts =
          options.now === undefined
            ? verifyOptions
            : { ...verifyOptions, currentDate: new Date(options.now()) };
        // Two overloads of jwtVerify (a key, or a key function such as a JWKS).
        payload =
          typeof key === 'function'
            ? (await jwtVerify(token, key, opts)).payload
            : (await jwtVerify(token, key, opts)).payload;
      } catch (err) {
        throw describe(err);
      }
      if (!isId(payload.sub))
        throw new TokenError('invalid_token', 'subject', `the token's sub is not a user id (${ID_RULE})`);
      let matches: ReadonlySet<string> | undefined;
      if (payload.matches !== undefined) {
        const parsed = matchesClaim.safeParse(payload.matches);
        if (!parsed.success)
          throw new TokenError(
            'invalid_token',
            'matches',
            `the token's matches claim must be at most ${MAX_MATCHES_CLAIM} match ids`,
          );
        matches = new Set(parsed.data);
      }
      return { subject: payload.sub, matches, expiresAt: (payload.exp as number) * 1000 };
    },
  };
}

/**
 * `WWW-Authenticate` value of a 401 (RFC 6750 §3): no error attribute when the request carried no token,
 * else the code and description.
 */
export function wwwAuthenticate(err?: TokenError): string {
  const realm = 'Bearer realm="emostream"';
  if (err === undefined || err.reason === 'missing') return realm;
  // A header value is visible ASCII (RFC 6750 §3: error_description is %x20-21 / %x23-5B / %x5D-7E).
  const description = err.description.replace(/[^\x20-\x7e]/g, '-').replace(/["\\]/g, "'");
  return `${realm}, error="${err.code}", error_description="${description}"`;
}

/** Options of {@link mintToken}. */
export interface MintOptions {
  secret: string;
  subject: string;
  ttlSec: number;
  matches?: readonly string[];
  issuer?: string;
  audience?: string;
}

/** An HS256 token for the local secret (`npm run token`, tests). */
export function mintToken(options: MintOptions): Promise<string> {
  const jwt = new SignJWT(options.matches === undefined ? {} : { matches: [...options.matches] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.subject)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + options.ttlSec);
  if (options.issuer !== undefined) jwt.setIssuer(options.issuer);
  if (options.audience !== undefined) jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(options.secret));
}
