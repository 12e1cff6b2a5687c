/**
 * runner_support.py, what both runners share: the Kafka login options each engine gets from one plan (Spark's
 * `kafka.*` through the Kafka client's own login modules, Flink's `properties.*` through the connector's shaded
 * ones: flink-runner.test.ts), and whether the process a driver is tied to still runs — a killed launcher not yet
 * reaped (a zombie) counts as gone, so a restarted driver does not wait on it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { runnerKafkaSecurity } from './control/spark-job.ts';
import { callPython } from './python-call.fixture.ts';

describe('runner.py: Kafka security options of the Spark source and sink', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'runner-security-'));

  it('is PLAINTEXT and nothing else without security', () => {
    expect(callPython('runner.py', 'kafka_security_options', [{ brokers: 'b:1' }]).out).toEqual({
      'kafka.security.protocol': 'PLAINTEXT',
    });
  });

  it("logs in with SCRAM through the Kafka client's login module, the password read from its file, over PEM TLS", () => {
    const passwordFile = path.join(dir, 'kafka-pw');
    writeFileSync(passwordFile, 'pa"ss\\word\n');
    const security = runnerKafkaSecurity({
      protocol: 'SASL_SSL',
      sasl: { mechanism: 'SCRAM-SHA-256', username: 'spark', password: 'pa"ss\\word', passwordFile },
      caFile: '/ca.pem',
    });
    expect(JSON.stringify(security)).not.toContain('pa"ss');
    expect(callPython('runner.py', 'kafka_security_options', [{ security }]).out).toEqual({
      'kafka.security.protocol': 'SASL_SSL',
      'kafka.sasl.mechanism': 'SCRAM-SHA-256',
      'kafka.sasl.jaas.config':
        'org.apache.kafka.common.security.scram.ScramLoginModule required username="spark" password="pa\\"ss\\\\word";',
      'kafka.ssl.truststore.type': 'PEM',
      'kafka.ssl.truststore.location': '/ca.pem',
    });
  });

  it('reads KAFKA_SASL_PASSWORD from its environment, and a missing one stops it naming both places', () => {
    const security = { protocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'PLAIN', username: 'u' } };
    const ok = callPython('runner.py', 'kafka_security_options', [{ security }], {
      KAFKA_SASL_PASSWORD: 'env-pw',
    });
    expect((ok.out as Record<string, string>)['kafka.sasl.jaas.config']).toBe(
      'org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="env-pw";',
    );
    const missing = callPython('runner.py', 'kafka_security_options', [{ security }]);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain(
      "runner: the plan's Kafka SASL login has no password (KAFKA_SASL_PASSWORD or its _FILE)",
    );
  });
});

describe('runner_support.py: pid_alive', () => {
  // `sh` starts a short child, prints its pid and becomes a `sleep` that never reaps it: once the child exits it
  // stays a zombie for as long as the sleep runs.
  const parent = spawn('sh', ['-c', 'sleep 0.1 & echo $!; exec sleep 30'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const zombiePid = new Promise<number>((resolve) =>
    parent.stdout.once('data', (b) => resolve(Number(String(b)))),
  );
  afterAll(() => {
    parent.kill('SIGKILL');
  });

  const alive = (...args: unknown[]) => callPython('runner_support.py', 'pid_alive', args).out;
  const startTime = (pid: number) => callPython('runner_support.py', 'proc_start_time', [pid]).out;

  it('is true for a running process, false for one started at another time (a reused pid)', () => {
    expect(alive(parent.pid)).toBe(true);
    const started = startTime(parent.pid as number);
    expect(typeof started).toBe('string');
    expect(alive(parent.pid, started)).toBe(true);
    expect(alive(parent.pid, '1')).toBe(false);
  });

  it('is false for a process that exited and is not reaped yet (a zombie), and for one that is gone', async () => {
    const pid = await zombiePid;
    await sleep(600);
    expect(callPython('runner_support.py', 'proc_stat', [pid]).out).toEqual(expect.arrayContaining(['Z']));
    expect(alive(pid)).toBe(false);
    expect(alive(2 ** 22 + 1)).toBe(false);
  });
});
