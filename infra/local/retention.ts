/**
 * How much the local stack's topics keep: by time and by size, so a data directory that survives restarts still
 * has a bound. The same values are the broker's defaults (for topics the services create themselves, such as the
 * per-cluster fan-out topics) and explicit configs of the stack's own topics (altered on every start when they
 * differ, so a changed setting reaches existing topics).
 */
import { type EnvConfig, fromEnv, intVar, parseEnv } from '../../common/env.ts';

const HOUR_MS = 3_600_000;
const MiB = 1024 * 1024;

/** Flags of `npm start` / `npm run stack` → the environment variable each one sets. */
const FLAG_VARIABLES = {
  'retention-ms': 'EMOSTREAM_RETENTION_MS',
  'retention-bytes': 'EMOSTREAM_RETENTION_BYTES',
  'segment-bytes': 'EMOSTREAM_SEGMENT_BYTES',
} as const;

const RETENTION_ENV = {
  /** `retention.ms`: records older than this are deleted. @default 6 h */
  retentionMs: fromEnv(FLAG_VARIABLES['retention-ms'], intVar(60_000, 365 * 24 * HOUR_MS, 6 * HOUR_MS)),
  /**
   * `retention.bytes`, per partition. @default 64 MiB: about 35 partitions (reactions 12 on the cluster profile, 4
   * on the light one; aggregates 6, fan-out 6 + 6, trends) × (64 MiB + one open segment) stays under 3 GB. A load
   * run at 100k reactions/s (~15 MB/s) keeps the last 15–50 s of reactions (4 to 12 partitions).
   */
  retentionBytes: fromEnv(FLAG_VARIABLES['retention-bytes'], intVar(MiB, 2 ** 40, 64 * MiB)),
  /**
   * `segment.bytes`. Retention deletes whole segments, never the open one, so this is the granularity of the bound.
   * @default 16 MiB
   */
  segmentBytes: fromEnv(FLAG_VARIABLES['segment-bytes'], intVar(MiB, 1024 * MiB, 16 * MiB)),
};

export type RetentionSettings = EnvConfig<typeof RETENTION_ENV>;

/** The defaults, as `npm start` uses them when nothing is set. */
export const DEFAULT_RETENTION: RetentionSettings = parseEnv('local stack retention', RETENTION_ENV, {});

/**
 * Retention from flags (`--retention-ms`, `--retention-bytes`, `--segment-bytes`) over the environment
 * (`EMOSTREAM_RETENTION_MS`, …) over the defaults; a bad value throws ConfigError naming the variable.
 */
export function retentionFrom(
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
): RetentionSettings {
  const merged: NodeJS.ProcessEnv = { ...env };
  for (const [flag, variable] of Object.entries(FLAG_VARIABLES)) {
    if (flags[flag] !== undefined) merged[variable] = String(flags[flag]);
  }
  return parseEnv('local stack retention', RETENTION_ENV, merged);
}

/**
 * Segments roll by time too, or a quiet topic's only segment would stay open (undeletable) for the broker's
 * default 7 days: a sixth of the retention, between 1 minute and 1 hour.
 */
export function segmentMs(settings: RetentionSettings): number {
  return Math.max(60_000, Math.min(HOUR_MS, Math.floor(settings.retentionMs / 6)));
}

/** Topic configs of a stack topic. */
export function topicRetentionConfigs(settings: RetentionSettings): Record<string, string> {
  return {
    'cleanup.policy': 'delete',
    'retention.ms': String(settings.retentionMs),
    'retention.bytes': String(settings.retentionBytes),
    'segment.bytes': String(settings.segmentBytes),
    'segment.ms': String(segmentMs(settings)),
  };
}

/** The same bound as broker defaults (`server.properties`), for topics created without configs. */
export function brokerRetentionProperties(settings: RetentionSettings): Record<string, string> {
  return {
    'log.retention.ms': String(settings.retentionMs),
    'log.retention.bytes': String(settings.retentionBytes),
    'log.segment.bytes': String(settings.segmentBytes),
    'log.roll.ms': String(segmentMs(settings)),
  };
}
