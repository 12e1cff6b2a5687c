import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';

/** Where the previous run's logs go inside `<runDir>/logs`. */
export const PREVIOUS_LOGS = 'previous';

/**
 * Empties a run dir for a new run, except its logs: the last run's `logs/*` move to `logs/previous/` (replacing
 * the generation before, so at most two runs' logs are ever kept) and stay readable after the next start.
 * Returns the directory the previous logs are in, if there were any.
 */
export function renewRunDir(runDir: string): string | undefined {
  if (!existsSync(runDir)) return undefined;
  const logs = path.join(runDir, 'logs');
  for (const name of readdirSync(runDir)) {
    if (name !== 'logs') rmSync(path.join(runDir, name), { recursive: true, force: true });
  }
  if (!existsSync(logs)) return undefined;
  const previous = path.join(logs, PREVIOUS_LOGS);
  rmSync(previous, { recursive: true, force: true });
  const last = readdirSync(logs);
  if (last.length === 0) return undefined;
  mkdirSync(previous);
  for (const name of last) renameSync(path.join(logs, name), path.join(previous, name));
  return previous;
}
