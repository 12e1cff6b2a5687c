/**
 * The local stack's token secret: with auth on (`npm start -- --auth`, or `EMOSTREAM_AUTH=jwt`), `npm start`
 * reads the HS256 secret from `<data dir>/auth/jwt-secret`, or makes one (32 random bytes, file mode 0600) the
 * first time, and gives it to ingest and the subscriber nodes as `AUTH_JWT_SECRET`; `npm run token` signs with
 * the same file. `AUTH_JWT_SECRET` set in the environment wins over the file. The file lives and is wiped
 * (`--fresh`, `npm run reset`) with the rest of the data dir: a new secret makes old tokens invalid.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Where the secret of data dir `root` is kept. */
export function authSecretPath(root: string): string {
  return path.join(root, 'auth', 'jwt-secret');
}

/** The secret of data dir `root`; made when `create` and missing, else undefined when missing. */
export function localAuthSecret(root: string, create: boolean): string | undefined {
  const file = authSecretPath(root);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  if (!create) return undefined;
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return secret;
}

/** True when the local stack is asked to run with auth on (`--auth` or `EMOSTREAM_AUTH=jwt`). */
export function localAuthWanted(
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  return Boolean(flags.auth) || env.EMOSTREAM_AUTH === 'jwt';
}

/** The secret a local tool signs with: `AUTH_JWT_SECRET` when set, else the data dir's (undefined when neither). */
export function localTokenSecret(root: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.AUTH_JWT_SECRET || localAuthSecret(root, false);
}
