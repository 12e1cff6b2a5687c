import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ProvisionError } from './errors.ts';
import { runMaven } from './maven.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'maven-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in `mvn`: prints what Maven prints while downloading, then exits with `code`. */
function fakeMvn(name: string, code: number): string {
  const file = path.join(dir, name);
  writeFileSync(
    file,
    [
      '#!/bin/sh',
      'echo "[INFO] args: $*"',
      'echo "Downloading from central: https://repo.example/a/b/kafka-clients-3.9.0.jar"',
      'echo "Downloaded from central: https://repo.example/a/b/kafka-clients-3.9.0.jar (1,500 kB at 2.0 MB/s)"',
      'echo "[ERROR] Failed to resolve org.example:missing:1.0" >&2',
      'echo "[ERROR]" >&2',
      `exit ${code}`,
    ].join('\n'),
  );
  chmodSync(file, 0o755);
  return file;
}

const jdk = { home: dir, feature: 17, java: 'java' };

describe('runMaven', () => {
  it('condenses download lines into a status and writes the whole output to the log', async () => {
    const statuses: string[] = [];
    const logFile = path.join(dir, 'ok.log');
    await runMaven({
      mvn: fakeMvn('mvn-ok', 0),
      jdk,
      cwd: dir,
      args: ['dependency:copy', '-Dx=a b'],
      logFile,
      onStatus: (s) => statuses.push(s),
    });
    expect(statuses.at(-1)).toBe('1 artifacts downloaded, 1.5 MB; kafka-clients-3.9.0.jar');
    const log = readFileSync(logFile, 'utf8');
    // Batch mode first, and each argument passed as one word (zx quotes it).
    expect(log).toContain('[INFO] args: -B dependency:copy -Dx=a b');
    expect(log).toContain('[ERROR] Failed to resolve');
  });

  it('fails with a ProvisionError naming the goal, the exit code, the [ERROR] lines and the log', async () => {
    const logFile = path.join(dir, 'fail.log');
    const failure = await runMaven({
      mvn: fakeMvn('mvn-fail', 3),
      jdk,
      cwd: dir,
      args: ['dependency:copy-dependencies'],
      logFile,
      onStatus: () => {},
    }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ProvisionError);
    expect((failure as ProvisionError).message).toBe(
      `mvn dependency:copy-dependencies exited with 3\n[ERROR] Failed to resolve org.example:missing:1.0 (full log: ${logFile})`,
    );
    expect((failure as ProvisionError).logFile).toBe(logFile);
    expect((failure as ProvisionError).cause).toMatchObject({ exitCode: 3 });
  });

  it('says it could not run Maven when the program is missing', async () => {
    const failure = await runMaven({
      mvn: path.join(dir, 'no-such-mvn'),
      jdk,
      cwd: dir,
      args: ['validate'],
      logFile: path.join(dir, 'missing.log'),
      onStatus: () => {},
    }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ProvisionError);
    expect((failure as Error).message).toMatch(/^could not run \S*no-such-mvn: .*(not found|No such file)/);
  });
});
