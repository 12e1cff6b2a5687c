#!/usr/bin/env tsx
/**
 * `npm run reset` — wipe the data dir of `npm start` / `npm run stack` (Kafka's log, the registry's database, the
 * Spark checkpoints) and print what was deleted, with sizes. Refuses while a stack runs on it. Data dir:
 * --data-dir/EMOSTREAM_DATA_DIR, default <cache>/data. The next start begins empty, as `npm start -- --fresh` does.
 */
import { argv } from 'zx';
import { dataDirFrom, describeWipe, wipeDataDir } from '../infra/local/data-dir.ts';
import { reportFailure } from '../infra/local/foreground.ts';

try {
  process.stdout.write(`${describeWipe(wipeDataDir(dataDirFrom(argv))).join('\n')}\n`);
} catch (error) {
  process.exitCode = reportFailure(error);
}
