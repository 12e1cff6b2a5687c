import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createDeadLetterFile,
  DEAD_LETTER_FILE,
  DEAD_LETTER_ROTATED,
  type DeadLetterEntry,
} from './dead-letter-file.ts';

const root = mkdtempSync(path.join(tmpdir(), 'emostream-dead-letter-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const entry = (i: number): DeadLetterEntry => ({
  time: new Date(0).toISOString(),
  topic: 't',
  key: `u${i}`,
  reaction: { event_id: `e${i}`, user_id: `u${i}`, emoji: '🔥' },
  size: 300,
  error: { name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE', message: 'too large' },
});
const lineBytes = Buffer.byteLength(`${JSON.stringify(entry(0))}\n`);

describe('dead-letter file', () => {
  it('writes one JSON line per record, creating its directory', () => {
    const dir = path.join(root, 'a', 'dead-letter');
    const f = createDeadLetterFile({ dir });
    expect(f.write(entry(1))).toEqual({ written: true, file: path.join(dir, DEAD_LETTER_FILE) });
    f.write(entry(2));
    const lines = readFileSync(f.file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([entry(1), entry(2)]);
  });

  it('is bounded: rotates once, then refuses (and says why) instead of overwriting what it kept', () => {
    const dir = path.join(root, 'b');
    const f = createDeadLetterFile({ dir, maxBytes: lineBytes * 3 });
    const outcomes = Array.from({ length: 8 }, (_, i) => f.write(entry(i)));
    expect(outcomes.filter((o) => o.written).length).toBe(6);
    const last = outcomes[7];
    expect(last).toMatchObject({ written: false, reason: 'full' });
    expect(last?.written === false && last.detail).toMatch(/move them away/);
    expect(statSync(path.join(dir, DEAD_LETTER_FILE)).size).toBeLessThanOrEqual(lineBytes * 3);
    const rotated = readFileSync(path.join(dir, DEAD_LETTER_ROTATED), 'utf8').trim().split('\n');
    expect(rotated.map((l) => JSON.parse(l).key)).toEqual(['u0', 'u1', 'u2']);
  });

  it('continues the size of a file left by an earlier run', () => {
    const dir = path.join(root, 'c');
    createDeadLetterFile({ dir }).write(entry(0));
    writeFileSync(path.join(dir, DEAD_LETTER_FILE), 'x'.repeat(lineBytes * 2), { flag: 'a' });
    const f = createDeadLetterFile({ dir, maxBytes: lineBytes * 3 });
    f.write(entry(1));
    expect(existsSync(path.join(dir, DEAD_LETTER_ROTATED))).toBe(true);
  });

  it('reports an unwritable directory instead of throwing', () => {
    const blocker = path.join(root, 'not-a-dir');
    writeFileSync(blocker, '');
    const f = createDeadLetterFile({ dir: path.join(blocker, 'dead-letter') });
    expect(f.write(entry(0))).toMatchObject({ written: false, reason: 'io-error' });
  });
});
