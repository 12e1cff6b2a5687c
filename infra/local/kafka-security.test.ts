import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { clientSecurityEnv, clientSecurityFromEnv } from '../../common/client-security.ts';
import { ServiceError } from './errors.ts';
import { secureFrom } from './foreground.ts';
import {
  assertScramCluster,
  clientSecurityOf,
  ensureLocalSecurity,
  PRINCIPALS,
  recordScramCluster,
  registryAuthDir,
  scramFormatArgs,
  scramJaas,
  secureBrokerProperties,
} from './kafka-security.ts';
import { findJdks } from './prerequisites.ts';

describe('secureFrom', () => {
  it('takes --secure over EMOSTREAM_SECURE, off by default, and names a bad value', () => {
    expect(secureFrom({}, {})).toBe(false);
    expect(secureFrom({ secure: true }, {})).toBe(true);
    expect(secureFrom({ secure: false }, { EMOSTREAM_SECURE: '1' })).toBe(false);
    expect(secureFrom({}, { EMOSTREAM_SECURE: '1' })).toBe(true);
    expect(secureFrom({}, { EMOSTREAM_SECURE: 'true' })).toBe(true);
    expect(secureFrom({}, { EMOSTREAM_SECURE: '0' })).toBe(false);
    expect(() => secureFrom({}, { EMOSTREAM_SECURE: 'yes' })).toThrow(
      /--secure\/EMOSTREAM_SECURE must be 1, true, 0 or false, got "yes"/,
    );
  });
});

describe('scramJaas', () => {
  it('quotes the user and escapes quotes and backslashes in the password', () => {
    expect(scramJaas('u', 'a"b\\c')).toBe(
      'org.apache.kafka.common.security.scram.ScramLoginModule required username="u" password="a\\"b\\\\c";',
    );
  });
});

describe('the generated security material (keytool of the JDK)', async () => {
  const jdk = (await findJdks())[0];
  if (!jdk) throw new Error('no JDK found: the local runtime needs one (README, Prerequisites)');
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'kafka-security-')), 'security');
  const sec = await ensureLocalSecurity(jdk.java, dir, '127.0.0.1');

  it('makes a CA, a broker keystore signed by it for loopback, and a password per principal, all private', () => {
    expect(readFileSync(sec.caFile, 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const keytool = path.join(path.dirname(jdk.java), 'keytool');
    const listing = execFileSync(
      keytool,
      ['-list', '-v', '-keystore', sec.keystoreFile, '-storetype', 'PKCS12', '-storepass:env', 'P'],
      { env: { ...process.env, P: sec.keystorePassword }, encoding: 'utf8' },
    );
    expect(listing).toMatch(/Alias name: broker[\s\S]*Certificate chain length: 2/);
    expect(listing).toMatch(/Issuer: CN=EmoStream local CA/);
    expect(listing).toMatch(/IPAddress: 127\.0\.0\.1/);
    expect(Object.keys(sec.users).sort()).toEqual([...PRINCIPALS].sort());
    const passwords = new Set(Object.values(sec.users).map((u) => u.password));
    expect(passwords.size).toBe(PRINCIPALS.length);
    for (const u of Object.values(sec.users)) {
      expect(u.password).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(statSync(u.passwordFile).mode & 0o077).toBe(0);
    }
  });

  it('is generated once: a second call reads the same material', async () => {
    const again = await ensureLocalSecurity(jdk.java, dir, '127.0.0.1');
    expect(again).toEqual(sec);
  });

  it('gives the broker a SASL_SSL listener with SCRAM-SHA-512 and a plaintext controller on loopback', () => {
    const props = secureBrokerProperties(sec, { host: '127.0.0.1', port: 9092, controllerPort: 9093 });
    expect(props.listeners).toBe('SASL_SSL://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093');
    expect(props['listener.security.protocol.map']).toBe('CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL');
    expect(props['sasl.enabled.mechanisms']).toBe('SCRAM-SHA-512');
    expect(props['listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config']).toContain(
      `username="emostream-admin" password="${sec.users.admin.password}"`,
    );
    expect(scramFormatArgs(sec)).toEqual(
      PRINCIPALS.flatMap((p) => [
        '--add-scram',
        `SCRAM-SHA-512=[name=emostream-${p},password=${sec.users[p].password}]`,
      ]),
    );
  });

  it("hands each principal the client contract's settings, with its password as a file", () => {
    const env = clientSecurityEnv(clientSecurityOf(sec, 'spark'));
    expect(env).toEqual({
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: 'emostream-spark',
      KAFKA_SASL_PASSWORD_FILE: sec.users.spark.passwordFile,
      KAFKA_SSL_CA_FILE: sec.caFile,
      SCHEMA_REGISTRY_USERNAME: 'emostream',
      SCHEMA_REGISTRY_PASSWORD_FILE: sec.registry.passwordFile,
    });
    expect(clientSecurityFromEnv(env).kafka.sasl?.password).toBe(sec.users.spark.password);
  });

  it('writes the registry user into the config Quarkus reads from its working directory', () => {
    const props = readFileSync(path.join(registryAuthDir(sec), 'config', 'application.properties'), 'utf8');
    expect(props).toContain(`quarkus.security.users.embedded.users.emostream=${sec.registry.password}`);
    expect(props).toContain('quarkus.http.auth.permission.authenticated.policy=authenticated');
  });

  it('refuses a Kafka storage formatted without its SCRAM users, with what to do', () => {
    expect(() => assertScramCluster(sec, 'cluster-1', '/data/kafka')).toThrow(ServiceError);
    expect(() => assertScramCluster(sec, 'cluster-1', '/data/kafka')).toThrow(/--fresh/);
    recordScramCluster(sec, 'cluster-1');
    expect(() => assertScramCluster(sec, 'cluster-1', '/data/kafka')).not.toThrow();
    expect(() => assertScramCluster(sec, 'cluster-2', '/data/kafka')).toThrow(
      /without this stack's SCRAM users/,
    );
  });
});
