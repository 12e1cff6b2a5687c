/**
 * Tokens for the local load tools (`npm run load -- --auth`, `npm run chaos -- --auth`, the steady load of the chaos
 * suite): a pool of reactor subjects, each with its own HS256 token minted by `common/auth.ts`'s one
 * {@link mintToken}, and viewer tokens whose `matches` claim names the viewer's match. With ingest's auth on, a
 * request reacts as its token's subject only, so a load spreads its reactions over the pool, one subject per
 * request, round robin.
 */
import { mintToken } from '../../common/auth.ts';

/** Options of {@link createLoadTokens}. */
export interface LoadTokensOptions {
  secret: string;
  /** Reactor subjects in the pool. */
  subjects: number;
  /** Subject prefix: subjects are `<prefix>-<n>`, viewers `<prefix>-viewer-<n>`. */
  prefix: string;
  /** @default 1 day */
  ttlSec?: number;
  /** @default `AUTH_ISSUER` */
  issuer?: string;
  /** @default the first of `AUTH_AUDIENCE` */
  audience?: string;
}

/** A reactor of the pool: its user id and the `Authorization` header that proves it. */
export interface LoadReactor {
  subject: string;
  authorization: string;
}

/** Minted tokens of one load run. */
export interface LoadTokens {
  /** The next reactor of the pool (round robin). */
  nextReactor(): LoadReactor;
  /** A viewer token for viewer `n`, allowed to join `matches` only. */
  viewer(n: number, matches: readonly string[]): Promise<string>;
}

/** Mints the reactor pool up front (HS256: well under a millisecond each). */
export async function createLoadTokens(options: LoadTokensOptions): Promise<LoadTokens> {
  const ttlSec = options.ttlSec ?? 86_400;
  const issuer = options.issuer ?? process.env.AUTH_ISSUER;
  const audience = options.audience ?? process.env.AUTH_AUDIENCE?.split(',')[0]?.trim();
  const claims = {
    secret: options.secret,
    ttlSec,
    issuer: issuer || undefined,
    audience: audience || undefined,
  };
  const reactors = await Promise.all(
    Array.from({ length: Math.max(1, options.subjects) }, async (_, i): Promise<LoadReactor> => {
      const subject = `${options.prefix}-${i}`;
      return { subject, authorization: `Bearer ${await mintToken({ ...claims, subject })}` };
    }),
  );
  let cursor = 0;
  return {
    nextReactor: () => reactors[cursor++ % reactors.length] as LoadReactor,
    viewer: (n, matches) => mintToken({ ...claims, subject: `${options.prefix}-viewer-${n}`, matches }),
  };
}
