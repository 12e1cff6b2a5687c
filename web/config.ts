/**
 * Configuration of the web server (viewer page + operator dashboard), parsed once from the environment
 * (`common/env.ts`); every bad variable is named in one {@link ConfigError}.
 */
import * as z from 'zod';
import { WEB_DEFAULT_PORT } from '../common/cors.ts';
import { type EnvConfig, fromEnv, intVar, listVar, parseEnv, urlVar } from '../common/env.ts';
import { idSchema } from '../common/ids.ts';

export { ConfigError } from '../common/env.ts';

/** One `/metrics` endpoint the dashboard scrapes. */
export interface MetricsTarget {
  /** Service name, e.g. `ingest`, `node-cluster-a-1`. */
  name: string;
  /** Base URL of the service (`/metrics` is appended). */
  url: string;
  /** What the service is, which decides which of its metrics the dashboard reads. */
  role: 'ingest' | 'main-publisher' | 'cluster-publisher' | 'subscriber-node';
}

const ROLES = ['ingest', 'main-publisher', 'cluster-publisher', 'subscriber-node'] as const;

/** `role:name=url,…` — e.g. `ingest:ingest=http://127.0.0.1:8080,subscriber-node:node-a-1=http://127.0.0.1:8093`. */
const targetsVar = listVar.transform((entries, ctx) => {
  const targets: MetricsTarget[] = [];
  for (const entry of entries) {
    const m = /^([a-z-]+):([^=]+)=(.+)$/.exec(entry);
    const role = ROLES.find((r) => r === m?.[1]);
    if (!m || !role || !idSchema.safeParse(m[2]).success || !urlVar.safeParse(m[3]).success) {
      ctx.addIssue({
        code: 'custom',
        message: `${JSON.stringify(entry.slice(0, 100))} is not role:name=url (role one of ${ROLES.join(', ')})`,
      });
      continue;
    }
    targets.push({ role, name: m[2] as string, url: (m[3] as string).replace(/\/+$/, '') });
  }
  return targets.slice(0, 64);
});

const WEB_ENV = {
  /** @default '127.0.0.1' */
  host: fromEnv('HOST', z.string().min(1).default('127.0.0.1')),
  /** 0 picks a free port. @default 8088 */
  port: fromEnv('WEB_PORT', intVar(0, 65535, WEB_DEFAULT_PORT)),
  /** Ingest as the browser reaches it (the page POSTs reactions there; its CORS_ORIGINS must list this server). */
  ingestUrl: fromEnv('INGEST_URL', urlVar),
  /** The directory (main publisher) as the browser reaches it. */
  directoryUrl: fromEnv('DIRECTORY_URL', urlVar),
  /** The services whose `/metrics` the dashboard charts (see {@link targetsVar}). @default none */
  metricsTargets: fromEnv('WEB_METRICS_TARGETS', targetsVar),
  /** SPARK_JOBS_STATE of the Spark jobs, whose run directories the dashboard reads. @default none (no job panel) */
  sparkState: fromEnv('SPARK_JOBS_STATE', z.string().min(1).optional()),
  /** Interval of the dashboard's scrape, ms. @default 2000 */
  scrapeMs: fromEnv('WEB_SCRAPE_MS', intVar(250, 60_000, 2_000)),
  /** Scrapes kept for the charts (the history a freshly opened dashboard gets). @default 300 */
  historyPoints: fromEnv('WEB_HISTORY_POINTS', intVar(2, 10_000, 300)),
};

/** Web server configuration. */
export type WebConfig = EnvConfig<typeof WEB_ENV>;

/** Reads the web server's configuration from `env`. */
export function webConfigFromEnv(env: NodeJS.ProcessEnv = process.env): WebConfig {
  return parseEnv('web', WEB_ENV, env);
}
