import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type ClientSecurity,
  clientSecurityEnv,
  clientSecurityFromEnv,
  kafkajsSecurity,
  withoutClientSecurity,
} from './client-security.ts';
import { ConfigError } from './env.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'client-security-'));
const file = (name: string, content: string) => {
  const f = path.join(dir, name);
  writeFileSync(f, content);
  return f;
};
const CA = file('ca.pem', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
const PASSWORD_FILE = file('password', 's3cret\n');

/** The issues of the ConfigError `env` raises (fails when it parses). */
function issuesOf(env: NodeJS.ProcessEnv): Record<string, string> {
  try {
    clientSecurityFromEnv(env, 'test service');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.message).toContain('invalid test service configuration');
    return Object.fromEntries(e.issues.map((i) => [i.variable, i.message]));
  }
  throw new Error(`parsed: ${JSON.stringify(env)}`);
}

describe('clientSecurityFromEnv', () => {
  it('is PLAINTEXT without credentials when nothing is set (empty values count as unset)', () => {
    expect(clientSecurityFromEnv({})).toEqual({ kafka: { protocol: 'PLAINTEXT' } });
    expect(clientSecurityFromEnv({ KAFKA_SECURITY_PROTOCOL: '', KAFKA_SASL_USERNAME: '' })).toEqual({
      kafka: { protocol: 'PLAINTEXT' },
    });
  });

  it('reads SASL_SSL with SCRAM-SHA-512 by default, the password from its file, and the CA file', () => {
    const sec = clientSecurityFromEnv({
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SASL_USERNAME: 'emostream-ingest',
      KAFKA_SASL_PASSWORD_FILE: PASSWORD_FILE,
      KAFKA_SSL_CA_FILE: CA,
    });
    expect(sec.kafka).toEqual({
      protocol: 'SASL_SSL',
      sasl: {
        mechanism: 'SCRAM-SHA-512',
        username: 'emostream-ingest',
        password: 's3cret',
        passwordFile: PASSWORD_FILE,
      },
      caFile: CA,
    });
    expect(kafkajsSecurity(sec.kafka)).toEqual({
      ssl: { ca: [expect.stringContaining('BEGIN CERTIFICATE')] },
      sasl: { mechanism: 'scram-sha-512', username: 'emostream-ingest', password: 's3cret' },
    });
  });

  it('reads the registry basic-auth user', () => {
    expect(
      clientSecurityFromEnv({ SCHEMA_REGISTRY_USERNAME: 'emostream', SCHEMA_REGISTRY_PASSWORD: 'pw' })
        .registry,
    ).toEqual({ username: 'emostream', password: 'pw' });
  });

  it('names an unknown protocol and mechanism with the allowed values', () => {
    const issues = issuesOf({
      KAFKA_SECURITY_PROTOCOL: 'TLS',
      KAFKA_SASL_MECHANISM: 'GSSAPI',
    });
    expect(issues.KAFKA_SECURITY_PROTOCOL).toMatch(/PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL/);
    expect(issues.KAFKA_SASL_MECHANISM).toMatch(/SCRAM-SHA-512, SCRAM-SHA-256, PLAIN/);
  });

  it('requires a user and exactly one password source with SASL', () => {
    expect(issuesOf({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL' })).toEqual({
      KAFKA_SASL_USERNAME: 'required with KAFKA_SECURITY_PROTOCOL=SASL_SSL',
      KAFKA_SASL_PASSWORD: expect.stringMatching(/required .*KAFKA_SASL_PASSWORD_FILE/),
    });
    expect(
      issuesOf({
        KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD: 'p',
        KAFKA_SASL_PASSWORD_FILE: PASSWORD_FILE,
      }),
    ).toEqual({
      KAFKA_SASL_PASSWORD_FILE: 'set either KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE, not both',
    });
  });

  it('names a password file it cannot read, or an empty one, and a CA file that is missing or no PEM', () => {
    const issues = issuesOf({
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD_FILE: path.join(dir, 'missing'),
      KAFKA_SSL_CA_FILE: path.join(dir, 'missing.pem'),
    });
    expect(issues.KAFKA_SASL_PASSWORD_FILE).toMatch(/cannot read .*missing \(ENOENT\)/);
    expect(issues.KAFKA_SSL_CA_FILE).toMatch(/cannot read .*missing\.pem \(ENOENT\).*CA's PEM file/);
    expect(
      issuesOf({
        KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD_FILE: file('empty', '\n'),
        KAFKA_SSL_CA_FILE: file('not-pem', 'hello'),
      }),
    ).toEqual({
      KAFKA_SASL_PASSWORD_FILE: expect.stringMatching(/is empty/),
      KAFKA_SSL_CA_FILE: expect.stringMatching(/holds no PEM certificate/),
    });
  });

  it('refuses settings the protocol would silently ignore', () => {
    const issues = issuesOf({ KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p', KAFKA_SSL_CA_FILE: CA });
    expect(issues.KAFKA_SASL_USERNAME).toMatch(/KAFKA_SECURITY_PROTOCOL=PLAINTEXT sends no credentials/);
    expect(issues.KAFKA_SASL_PASSWORD).toMatch(/sends no credentials/);
    expect(issues.KAFKA_SSL_CA_FILE).toMatch(/does not use TLS; use SASL_SSL/);
    expect(issuesOf({ SCHEMA_REGISTRY_USERNAME: 'u' })).toEqual({
      SCHEMA_REGISTRY_PASSWORD: expect.stringMatching(/required with SCHEMA_REGISTRY_USERNAME/),
    });
    expect(issuesOf({ SCHEMA_REGISTRY_PASSWORD: 'p' })).toEqual({
      SCHEMA_REGISTRY_USERNAME: 'required with SCHEMA_REGISTRY_PASSWORD',
    });
  });
});

describe('clientSecurityEnv', () => {
  it('round-trips through the environment, passing a file-read password as its file', () => {
    const sec: ClientSecurity = {
      kafka: {
        protocol: 'SASL_SSL',
        sasl: { mechanism: 'SCRAM-SHA-512', username: 'u', password: 's3cret', passwordFile: PASSWORD_FILE },
        caFile: CA,
      },
      registry: { username: 'r', password: 'rp' },
    };
    const env = clientSecurityEnv(sec);
    expect(env).not.toHaveProperty('KAFKA_SASL_PASSWORD');
    expect(env.KAFKA_SASL_PASSWORD_FILE).toBe(PASSWORD_FILE);
    expect(clientSecurityFromEnv(env)).toEqual(sec);
  });

  it('withoutClientSecurity drops every variable of the contract and nothing else', () => {
    expect(
      withoutClientSecurity({
        KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
        SCHEMA_REGISTRY_PASSWORD: 'x',
        PATH: '/bin',
      }),
    ).toEqual({ PATH: '/bin' });
  });
});
