/**
 * One way to read a service's configuration from the environment: each config field names its environment
 * variable and a zod schema ({@link fromEnv}); {@link parseEnv} validates them all at once and throws one
 * {@link ConfigError} naming every bad variable. The config type is derived from the same spec
 * ({@link EnvConfig}), so the field list, the variables, the defaults and the types cannot drift apart; the
 * TSDoc written on a spec's fields is the TSDoc of the config type.
 */
import * as z from 'zod';

/** One bad environment variable. */
export interface ConfigIssue {
  /** The environment variable, e.g. `INGEST_PORT`. */
  variable: string;
  message: string;
}

/** The environment configuration of a service is invalid; names every bad variable. Never retriable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly retriable = false;
  constructor(
    /** The service whose configuration was read, e.g. `ingest`, `fan-out main publisher`. */
    readonly service: string,
    readonly issues: readonly ConfigIssue[],
  ) {
    super(
      `invalid ${service} configuration:\n${issues.map((i) => `  - ${i.variable}: ${i.message}`).join('\n')}`,
    );
  }
}

/** A config field read from one environment variable. */
export interface EnvVar<S extends z.ZodType = z.ZodType> {
  readonly variable: string;
  readonly schema: S;
}

/** Declares that a config field comes from environment variable `variable`, parsed by `schema`. */
export function fromEnv<S extends z.ZodType>(variable: string, schema: S): EnvVar<S> {
  return { variable, schema };
}

/** Config fields → where each is read from. */
export type EnvSpec = Record<string, EnvVar>;

type FieldOf<T extends EnvSpec, K extends keyof T> = z.output<T[K]['schema']>;

/**
 * The typed configuration an {@link EnvSpec} parses to; a field whose schema may yield `undefined` (no default)
 * is an optional property. Field docs carry over from the spec.
 */
export type EnvConfig<T extends EnvSpec> = {
  -readonly [K in keyof T as undefined extends FieldOf<T, K> ? never : K]: FieldOf<T, K>;
} & {
  -readonly [K in keyof T as undefined extends FieldOf<T, K> ? K : never]?: FieldOf<T, K>;
};

/**
 * Parses `env` against `spec`; throws {@link ConfigError} naming every bad variable of `service`. Variables not
 * in the spec are ignored.
 */
export function parseEnv<T extends EnvSpec>(
  service: string,
  spec: T,
  env: NodeJS.ProcessEnv = process.env,
): EnvConfig<T> {
  const shape: Record<string, z.ZodType> = {};
  for (const v of Object.values(spec)) shape[v.variable] = v.schema;
  const result = z.object(shape).safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      service,
      result.error.issues.map((issue) => ({
        variable: issue.path.length > 0 ? issue.path.map(String).join('.') : '(environment)',
        message: issue.message,
      })),
    );
  }
  const out: Record<string, unknown> = {};
  for (const [field, v] of Object.entries(spec)) out[field] = result.data[v.variable];
  return out as EnvConfig<T>;
}

/** An integer variable within [min, max], `dflt` when unset. */
export function intVar(min: number, max: number, dflt: number) {
  return z.coerce.number().int().min(min).max(max).default(dflt);
}

/** A comma-separated list variable: entries trimmed, empty entries dropped; `[]` when unset. */
export const listVar = z
  .string()
  .default('')
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x.length > 0),
  );

/** An http(s) URL variable. */
export const urlVar = z.url({ protocol: /^https?$/ });
