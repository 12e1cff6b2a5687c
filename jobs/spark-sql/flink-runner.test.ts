/**
 * flink_runner.py's Kafka and registry logins and its failure report, rendered from the plan the launcher writes (the one client-security
 * contract of common/client-security.ts): the table options of Flink's Kafka connector and avro-confluent format,
 * with the password read from its file or the environment, and no password in the plan itself.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { flinkRegistryAuth } from './control/flink-job.ts';
import { runnerKafkaSecurity } from './control/spark-job.ts';
import { callPython } from './python-call.fixture.ts';

const runner = (fn: string, args: unknown[], env: Record<string, string> = {}) =>
  callPython('flink_runner.py', fn, args, env);

const dir = mkdtempSync(path.join(tmpdir(), 'flink-security-'));
const secret = (name: string, value: string) => {
  const f = path.join(dir, name);
  writeFileSync(f, `${value}\n`);
  return f;
};

describe('flink_runner.py: Kafka security options', () => {
  it('is PLAINTEXT and nothing else without security', () => {
    expect(runner('kafka_security_properties', [{ brokers: 'b:1' }]).out).toEqual({
      'properties.security.protocol': 'PLAINTEXT',
    });
  });

  it('logs in with SCRAM through the shaded login module, the password read from its file, over PEM TLS', () => {
    const security = runnerKafkaSecurity({
      protocol: 'SASL_SSL',
      sasl: {
        mechanism: 'SCRAM-SHA-512',
        username: 'spark',
        password: 'pa"ss\\word',
        passwordFile: secret('kafka-pw', 'pa"ss\\word'),
      },
      caFile: '/ca.pem',
    });
    // The plan holds the file, not the password.
    expect(JSON.stringify(security)).not.toContain('pa"ss');
    expect(runner('kafka_security_properties', [{ security }]).out).toEqual({
      'properties.security.protocol': 'SASL_SSL',
      'properties.sasl.mechanism': 'SCRAM-SHA-512',
      'properties.sasl.jaas.config':
        'org.apache.flink.kafka.shaded.org.apache.kafka.common.security.scram.ScramLoginModule required ' +
        'username="spark" password="pa\\"ss\\\\word";',
      'properties.ssl.truststore.type': 'PEM',
      'properties.ssl.truststore.location': '/ca.pem',
    });
  });

  it('reads a password given as KAFKA_SASL_PASSWORD from its environment, and names a missing one', () => {
    const security = { protocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'PLAIN', username: 'u' } };
    const ok = runner('kafka_security_properties', [{ security }], { KAFKA_SASL_PASSWORD: 'env-pw' });
    expect((ok.out as Record<string, string>)['properties.sasl.jaas.config']).toBe(
      'org.apache.flink.kafka.shaded.org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="env-pw";',
    );
    const missing = runner('kafka_security_properties', [{ security }]);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain('has no password (KAFKA_SASL_PASSWORD or its _FILE)');
  });
});

describe('flink_runner.py: registry basic auth of the avro-confluent format', () => {
  it('sends the user and the password from its file under the format prefix; nothing without a user', () => {
    const registryAuth = flinkRegistryAuth({
      username: 'reg',
      password: 'r-pw',
      passwordFile: secret('reg-pw', 'r-pw'),
    });
    expect(JSON.stringify(registryAuth)).not.toContain('r-pw"');
    expect(registryAuth).toEqual({ username: 'reg', passwordFile: path.join(dir, 'reg-pw') });
    expect(runner('registry_auth_options', [{ registryAuth }, 'value.avro-confluent.']).out).toEqual({
      'value.avro-confluent.basic-auth.credentials-source': 'USER_INFO',
      'value.avro-confluent.basic-auth.user-info': 'reg:r-pw',
    });
    expect(runner('registry_auth_options', [{}, 'avro-confluent.']).out).toEqual({});
  });
});

describe('flink_runner.py: the failure of an undecodable record', () => {
  it('says what to do in front of Flink cause, and leaves other failures as they are', () => {
    const cause =
      'org.apache.flink.runtime.JobException: Recovery is suppressed\nCaused by: java.io.IOException: Failed to deserialize consumer record\nCaused by: java.io.IOException: Failed to deserialize Avro record.';
    const out = runner('explain_failure', [cause, 'emoji.reactions.v1']).out as string;
    expect(out).toMatch(/^a record on emoji\.reactions\.v1 is not registry-framed Avro/);
    expect(out).toContain('no ignore-parse-errors');
    expect(out).toContain('run this job on Spark');
    expect(out.endsWith(cause)).toBe(true);
    expect(runner('explain_failure', ['java.lang.OutOfMemoryError', 't']).out).toBe(
      'java.lang.OutOfMemoryError',
    );
  });
});

describe("flink_runner.py: the sink follows the job's output mode", () => {
  const schema = JSON.stringify({
    type: 'record',
    name: 'R',
    fields: [
      { name: 'match_id', type: 'string' },
      { name: 'emoji', type: 'string' },
      { name: 'n', type: 'long' },
    ],
  });
  const plan = (outputMode: string) => ({
    registryUrl: 'http://registry/apis/ccompat/v7',
    kafka: { brokers: 'b:1' },
    sink: { topic: 't.out', schema, key: 'match_id', upsertKey: ['match_id', 'emoji'], outputMode },
  });
  /** The WITH options of the rendered DDL, as a map. */
  const options = (ddl: string) =>
    Object.fromEntries([...ddl.matchAll(/'([^']+)' = '((?:[^']|'')*)'/g)].map((m) => [m[1], m[2]]));

  it('append: the plain kafka connector, keyed by the sink key as text, the whole row as the value', () => {
    const ddl = runner('sink_table_ddl', [plan('append')]).out as string;
    expect(ddl).not.toContain('PRIMARY KEY');
    expect(options(ddl)).toMatchObject({
      connector: 'kafka',
      topic: 't.out',
      'key.format': 'raw',
      'key.fields': 'match_id',
      'value.fields-include': 'ALL',
      'value.format': 'avro-confluent',
      'value.avro-confluent.subject': 't.out-value',
      'properties.security.protocol': 'PLAINTEXT',
    });
    expect(ddl).toContain('`n` BIGINT NOT NULL');
  });

  it('update: upsert-kafka keyed by the upsert key (JSON)', () => {
    const ddl = runner('sink_table_ddl', [plan('update')]).out as string;
    expect(ddl).toContain('PRIMARY KEY (`match_id`, `emoji`) NOT ENFORCED');
    expect(options(ddl)).toMatchObject({ connector: 'upsert-kafka', 'key.format': 'json' });
    expect(options(ddl)['key.fields']).toBeUndefined();
  });
});
