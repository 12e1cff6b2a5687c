/**
 * Flag helpers of the one-verb CLIs (client, load, chaos): a bad flag is one red line and exit code 2, the rule
 * every script follows.
 */
import { argv, chalk } from 'zx';

/** Prints `message` in red and exits 2 (bad usage). */
export function fail(message: string): never {
  console.error(chalk.red(message));
  process.exit(2);
}

/** `--<name>` as an integer in [min, max], `fallback` when absent; anything else fails with the range. */
export function intOption(name: string, fallback: number, min: number, max: number): number {
  const raw = argv[name];
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) fail(`--${name} must be an integer in ${min}–${max}`);
  return n;
}
