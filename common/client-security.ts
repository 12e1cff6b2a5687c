/**
 * The one configuration contract for how a client authenticates to Kafka and to the schema registry, read from the
 * environment once per process: every kafkajs client ({@link createKafka} in kafka.ts applies it), the registry
 * client (avro-serde.ts), the Spark job's launcher (which hands it to runner.py without the password) and the local
 * runtime's admin calls. Unset, everything is PLAINTEXT without credentials, as the seed-compatible local stack runs.
 *
 * | variable                              | meaning                                                                    |
 * | ------------------------------------- | -------------------------------------------------------------------------- |
 * | `KAFKA_SECURITY_PROTOCOL`             | `PLAINTEXT` (default), `SSL`, `SASL_PLAINTEXT`, `SASL_SSL`                 |
 * | `KAFKA_SASL_MECHANISM`                | `SCRAM-SHA-512` (default), `SCRAM-SHA-256`, `PLAIN`                        |
 * | `KAFKA_SASL_USERNAME`                 | the principal (SASL protocols only)                                        |
 * | `KAFKA_SASL_PASSWORD` / `…_FILE`      | its password, or a file holding it (exactly one of the two)                |
 * | `KAFKA_SSL_CA_FILE`                   | PEM file of the CA(s) to trust (TLS protocols); unset: the system's CAs    |
 * | `SCHEMA_REGISTRY_USERNAME`            | HTTP basic auth user of the registry; unset: no auth                       |
 * | `SCHEMA_REGISTRY_PASSWORD` / `…_FILE` | its password, or a file holding it                                         |
 *
 * A setting that would be silently ignored (credentials with PLAINTEXT, a CA file without TLS) is an error too.
 */
import { readFileSync } from 'node:fs';
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import * as z from 'zod';
import { ConfigError, type ConfigIssue, fromEnv, parseEnv } from './env.ts';

export const KAFKA_SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
export type KafkaSecurityProtocol = (typeof KAFKA_SECURITY_PROTOCOLS)[number];
export const KAFKA_SASL_MECHANISMS = ['SCRAM-SHA-512', 'SCRAM-SHA-256', 'PLAIN'] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

/** How a client connects to Kafka. */
export interface KafkaSecurity {
  protocol: KafkaSecurityProtocol;
  /** Present exactly for the SASL protocols. */
  sasl?: {
    mechanism: KafkaSaslMechanism;
    username: string;
    password: string;
    /** Where the password was read from, if from a file: handed on to child processes instead of the password. */
    passwordFile?: string;
  };
  /** PEM file of the CA(s) to trust; only with the TLS protocols. Absent: the system's CAs. */
  caFile?: string;
}

/** HTTP basic credentials of the schema registry. */
export interface RegistryAuth {
  username: string;
  password: string;
  passwordFile?: string;
}

/** PLAINTEXT, no credentials: the default. */
export const PLAINTEXT: KafkaSecurity = { protocol: 'PLAINTEXT' };

export const usesTls = (p: KafkaSecurityProtocol) => p === 'SSL' || p === 'SASL_SSL';
export const usesSasl = (p: KafkaSecurityProtocol) => p === 'SASL_PLAINTEXT' || p === 'SASL_SSL';

const optionalString = z.string().optional();

const SECURITY_ENV = {
  protocol: fromEnv(
    'KAFKA_SECURITY_PROTOCOL',
    z
      .enum(KAFKA_SECURITY_PROTOCOLS, { error: `one of ${KAFKA_SECURITY_PROTOCOLS.join(', ')}` })
      .default('PLAINTEXT'),
  ),
  mechanism: fromEnv(
    'KAFKA_SASL_MECHANISM',
    z.enum(KAFKA_SASL_MECHANISMS, { error: `one of ${KAFKA_SASL_MECHANISMS.join(', ')}` }).optional(),
  ),
  username: fromEnv('KAFKA_SASL_USERNAME', optionalString),
  password: fromEnv('KAFKA_SASL_PASSWORD', optionalString),
  passwordFile: fromEnv('KAFKA_SASL_PASSWORD_FILE', optionalString),
  caFile: fromEnv('KAFKA_SSL_CA_FILE', optionalString),
  registryUsername: fromEnv('SCHEMA_REGISTRY_USERNAME', optionalString),
  registryPassword: fromEnv('SCHEMA_REGISTRY_PASSWORD', optionalString),
  registryPasswordFile: fromEnv('SCHEMA_REGISTRY_PASSWORD_FILE', optionalString),
};

/** Both halves of the contract. */
export interface ClientSecurity {
  kafka: KafkaSecurity;
  /** Absent: the registry is called without credentials. */
  registry?: RegistryAuth;
}

/** The first line of a password file (a trailing newline, as `echo` writes, is not part of the password). */
function readSecret(file: string, variable: string, issues: ConfigIssue[]): string | undefined {
  try {
    const secret = readFileSync(file, 'utf8').split(/\r?\n/)[0] ?? '';
    if (secret === '') issues.push({ variable, message: `${file} is empty; write the password into it` });
    return secret;
  } catch (err) {
    issues.push({
      variable,
      message: `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); point it at a readable file holding the password`,
    });
    return undefined;
  }
}

/** A password from `VAR` or `VAR_FILE`, exactly one of them. */
function secretOf(
  value: string | undefined,
  file: string | undefined,
  variable: string,
  issues: ConfigIssue[],
): { password: string; passwordFile?: string } | undefined {
  if (value && file) {
    issues.push({
      variable: `${variable}_FILE`,
      message: `set either ${variable} or ${variable}_FILE, not both`,
    });
    return undefined;
  }
  if (file) {
    const password = readSecret(file, `${variable}_FILE`, issues);
    return password ? { password, passwordFile: file } : undefined;
  }
  return value ? { password: value } : undefined;
}

/**
 * Parses the contract from `env`; throws one {@link ConfigError} of `service` naming every bad variable and what to
 * do about it. Reads the password files (never the CA file: a missing one is named here, its content read by the
 * client that uses it).
 */
export function clientSecurityFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  service = 'Kafka client',
): ClientSecurity {
  // Empty values count as unset, as a shell's `VAR=` would mean.
  const e = parseEnv(
    service,
    SECURITY_ENV,
    Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== '')),
  );
  const issues: ConfigIssue[] = [];
  const protocol = e.protocol;
  let kafka: KafkaSecurity = { protocol };
  if (usesSasl(protocol)) {
    if (!e.username) {
      issues.push({
        variable: 'KAFKA_SASL_USERNAME',
        message: `required with KAFKA_SECURITY_PROTOCOL=${protocol}`,
      });
    }
    const secret = secretOf(e.password, e.passwordFile, 'KAFKA_SASL_PASSWORD', issues);
    if (!secret && !issues.some((i) => i.variable.startsWith('KAFKA_SASL_PASSWORD'))) {
      issues.push({
        variable: 'KAFKA_SASL_PASSWORD',
        message: `required with KAFKA_SECURITY_PROTOCOL=${protocol} (or KAFKA_SASL_PASSWORD_FILE naming a file that holds it)`,
      });
    }
    if (e.username && secret) {
      kafka.sasl = { mechanism: e.mechanism ?? 'SCRAM-SHA-512', username: e.username, ...secret };
    }
  } else {
    for (const [variable, value] of [
      ['KAFKA_SASL_MECHANISM', e.mechanism],
      ['KAFKA_SASL_USERNAME', e.username],
      ['KAFKA_SASL_PASSWORD', e.password],
      ['KAFKA_SASL_PASSWORD_FILE', e.passwordFile],
    ] as const) {
      if (value !== undefined) {
        issues.push({
          variable,
          message: `set, but KAFKA_SECURITY_PROTOCOL=${protocol} sends no credentials; use SASL_SSL (or SASL_PLAINTEXT), or unset it`,
        });
      }
    }
  }
  if (e.caFile !== undefined) {
    if (!usesTls(protocol)) {
      issues.push({
        variable: 'KAFKA_SSL_CA_FILE',
        message: `set, but KAFKA_SECURITY_PROTOCOL=${protocol} does not use TLS; use SASL_SSL (or SSL), or unset it`,
      });
    } else {
      try {
        const pem = readFileSync(e.caFile, 'utf8');
        if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
          issues.push({ variable: 'KAFKA_SSL_CA_FILE', message: `${e.caFile} holds no PEM certificate` });
        }
      } catch (err) {
        issues.push({
          variable: 'KAFKA_SSL_CA_FILE',
          message: `cannot read ${e.caFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); point it at the CA's PEM file`,
        });
      }
      kafka = { ...kafka, caFile: e.caFile };
    }
  }

  let registry: RegistryAuth | undefined;
  const registrySecret = secretOf(
    e.registryPassword,
    e.registryPasswordFile,
    'SCHEMA_REGISTRY_PASSWORD',
    issues,
  );
  if (e.registryUsername) {
    if (registrySecret) registry = { username: e.registryUsername, ...registrySecret };
    else if (!issues.some((i) => i.variable.startsWith('SCHEMA_REGISTRY_PASSWORD'))) {
      issues.push({
        variable: 'SCHEMA_REGISTRY_PASSWORD',
        message: 'required with SCHEMA_REGISTRY_USERNAME (or SCHEMA_REGISTRY_PASSWORD_FILE)',
      });
    }
  } else if (registrySecret) {
    issues.push({ variable: 'SCHEMA_REGISTRY_USERNAME', message: 'required with SCHEMA_REGISTRY_PASSWORD' });
  }
  if (issues.length > 0) throw new ConfigError(service, issues);
  return registry ? { kafka, registry } : { kafka };
}

let processSecurity: ClientSecurity | undefined;

/** {@link clientSecurityFromEnv} of this process's environment, parsed on first use and kept. */
export function processClientSecurity(): ClientSecurity {
  processSecurity ??= clientSecurityFromEnv(process.env);
  return processSecurity;
}

/** The kafkajs `ssl`/`sasl` options of `security`. */
export function kafkajsSecurity(security: KafkaSecurity): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const out: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (usesTls(security.protocol)) {
    out.ssl = security.caFile ? { ca: [readFileSync(security.caFile, 'utf8')] } : true;
  }
  if (security.sasl) {
    const { mechanism, username, password } = security.sasl;
    out.sasl = {
      mechanism: mechanism.toLowerCase() as 'scram-sha-512' | 'scram-sha-256' | 'plain',
      username,
      password,
    } as SASLOptions;
  }
  return out;
}

/**
 * The environment that gives a child process `security` (the inverse of {@link clientSecurityFromEnv}): a password
 * read from a file is passed as its `_FILE`, so it stays out of the child's environment.
 */
export function clientSecurityEnv(security: ClientSecurity): Record<string, string> {
  const { kafka, registry } = security;
  const env: Record<string, string> = { KAFKA_SECURITY_PROTOCOL: kafka.protocol };
  if (kafka.sasl) {
    env.KAFKA_SASL_MECHANISM = kafka.sasl.mechanism;
    env.KAFKA_SASL_USERNAME = kafka.sasl.username;
    if (kafka.sasl.passwordFile) env.KAFKA_SASL_PASSWORD_FILE = kafka.sasl.passwordFile;
    else env.KAFKA_SASL_PASSWORD = kafka.sasl.password;
  }
  if (kafka.caFile) env.KAFKA_SSL_CA_FILE = kafka.caFile;
  if (registry) {
    env.SCHEMA_REGISTRY_USERNAME = registry.username;
    if (registry.passwordFile) env.SCHEMA_REGISTRY_PASSWORD_FILE = registry.passwordFile;
    else env.SCHEMA_REGISTRY_PASSWORD = registry.password;
  }
  return env;
}

/** Every variable of the contract, to clear from an inherited environment before {@link clientSecurityEnv}. */
export const CLIENT_SECURITY_VARIABLES: readonly string[] = Object.values(SECURITY_ENV).map(
  (v) => v.variable,
);

/** `env` without any of the contract's variables (so a child gets exactly the settings given to it). */
export function withoutClientSecurity(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !CLIENT_SECURITY_VARIABLES.includes(k)));
}
