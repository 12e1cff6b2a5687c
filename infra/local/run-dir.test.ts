import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renewRunDir } from './run-dir.ts';

let runDir: string;
beforeEach(() => {
  runDir = mkdtempSync(path.join(tmpdir(), 'run-dir-test-'));
});
afterEach(() => rmSync(runDir, { recursive: true, force: true }));

function write(rel: string, text: string): void {
  mkdirSync(path.dirname(path.join(runDir, rel)), { recursive: true });
  writeFileSync(path.join(runDir, rel), text);
}

describe('renewRunDir', () => {
  it("empties the run dir but moves the last run's logs to logs/previous, keeping one generation only", () => {
    write('pids/kafka.pid', '123');
    write('kafka/server.properties', 'x');
    write('logs/kafka.log', 'run 1');
    expect(renewRunDir(runDir)).toBe(path.join(runDir, 'logs', 'previous'));
    expect(readdirSync(runDir)).toEqual(['logs']);
    expect(readFileSync(path.join(runDir, 'logs/previous/kafka.log'), 'utf8')).toBe('run 1');

    write('logs/kafka.log', 'run 2');
    write('logs/ingest.log', 'run 2');
    renewRunDir(runDir);
    expect(readdirSync(path.join(runDir, 'logs'))).toEqual(['previous']);
    expect(readdirSync(path.join(runDir, 'logs/previous')).sort()).toEqual(['ingest.log', 'kafka.log']);
    expect(readFileSync(path.join(runDir, 'logs/previous/kafka.log'), 'utf8')).toBe('run 2');
    expect(existsSync(path.join(runDir, 'logs/previous/previous'))).toBe(false);
  });

  it('does nothing to a missing dir and keeps no empty previous generation', () => {
    expect(renewRunDir(path.join(runDir, 'none'))).toBeUndefined();
    write('logs/previous/old.log', 'old');
    expect(renewRunDir(runDir)).toBeUndefined();
    expect(readdirSync(path.join(runDir, 'logs'))).toEqual([]);
  });
});
