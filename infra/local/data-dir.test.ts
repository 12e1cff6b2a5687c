import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  claimDataDir,
  DATA_DIR_MARKER,
  dataDirFrom,
  dataDirOwner,
  dataDirReport,
  describeWipe,
  formatBytes,
  listDataDir,
  lowDiskWarning,
  treeBytes,
  wipeDataDir,
} from './data-dir.ts';

let root: string;
beforeEach(() => {
  root = path.join(mkdtempSync(path.join(tmpdir(), 'data-dir-test-')), 'data');
});
afterEach(() => rmSync(path.dirname(root), { recursive: true, force: true }));

function file(rel: string, bytes: number): void {
  const p = path.join(root, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, Buffer.alloc(bytes));
}

describe('dataDirFrom', () => {
  it('prefers --data-dir, then EMOSTREAM_DATA_DIR, then <cache>/data', () => {
    expect(dataDirFrom({ 'data-dir': '/a' }, { EMOSTREAM_DATA_DIR: '/b' })).toBe(path.resolve('/a'));
    expect(dataDirFrom({}, { EMOSTREAM_DATA_DIR: '/b' })).toBe(path.resolve('/b'));
    expect(dataDirFrom({}, { EMOSTREAM_CACHE: '/c' })).toBe(path.join(path.resolve('/c'), 'data'));
  });
});

describe('sizes', () => {
  it('counts files recursively and formats decimal units', () => {
    file('kafka/a/00.log', 1500);
    file('kafka/b/00.log', 500);
    file('registry/registry.mv.db', 3000);
    expect(treeBytes(root)).toBe(5000);
    expect(treeBytes(path.join(root, 'missing'))).toBe(0);
    expect(formatBytes(800)).toBe('800 B');
    expect(formatBytes(1500)).toBe('1.5 kB');
    expect(formatBytes(2_340_000_000)).toBe('2.3 GB');
  });
});

describe('wipeDataDir', () => {
  it('lists every top-level entry with its size, biggest first, then deletes the directory', () => {
    claimDataDir(root)();
    file('kafka/emoji.reactions.v1-0/00.log', 4000);
    file('registry/registry.mv.db', 3000);
    file('spark-jobs/checkpoints/emoji-swarm/offsets/1', 10);
    const result = wipeDataDir(root);
    expect(existsSync(root)).toBe(false);
    const sizes = Object.fromEntries(result.entries.map((e) => [path.basename(e.path), e.bytes]));
    expect(sizes).toMatchObject({ kafka: 4000, registry: 3000, 'spark-jobs': 10 });
    expect(result.totalBytes).toBe(Object.values(sizes).reduce((a, b) => a + b, 0));
    expect(result.entries.map((e) => path.basename(e.path))).toEqual([
      'kafka',
      'registry',
      DATA_DIR_MARKER,
      'spark-jobs',
    ]);
    const lines = describeWipe(result);
    expect(lines[0]).toContain(`deleted data dir ${root}`);
    expect(lines.find((l) => l.endsWith(path.join(root, 'kafka')))).toContain('4.0 kB');
  });

  it('says there is nothing to delete when the directory is missing', () => {
    expect(describeWipe(wipeDataDir(root))).toEqual([`data dir ${root} is empty; nothing to delete`]);
  });

  it('refuses a directory a stack did not make', () => {
    file('thesis.tex', 10);
    expect(() => wipeDataDir(root)).toThrow(/not made by a stack/);
    expect(existsSync(path.join(root, 'thesis.tex'))).toBe(true);
  });

  it('refuses while a live process owns it, naming the pid and how to stop it; a dead owner does not count', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    const pid = child.pid ?? 0;
    try {
      claimDataDir(root, pid);
      expect(dataDirOwner(root)?.pid).toBe(pid);
      expect(() => wipeDataDir(root)).toThrow(new RegExp(`pid ${pid}.*kill -TERM ${pid}`));
      expect(() => claimDataDir(root)).toThrow(/in use by a running stack/);
      expect(existsSync(root)).toBe(true);
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    expect(dataDirOwner(root)).toBeUndefined();
    expect(() => wipeDataDir(root)).not.toThrow();
  });

  it('a released claim leaves the directory free; the owner file holds pid and start time', () => {
    const release = claimDataDir(root);
    expect(JSON.parse(readFileSync(path.join(root, 'owner.json'), 'utf8')).pid).toBe(process.pid);
    release();
    expect(existsSync(path.join(root, 'owner.json'))).toBe(false);
  });
});

describe('lowDiskWarning', () => {
  it('warns below the threshold, saying what to do, and is silent above it', () => {
    expect(lowDiskWarning('/d', 2e9, 1e6)).toBeUndefined();
    const w = lowDiskWarning('/d', 1.2e9, 3.4e9);
    expect(w).toContain('only 1.2 GB free');
    expect(w).toContain('holds 3.4 GB');
    expect(w).toContain('npm run reset');
    expect(lowDiskWarning('/d', 5e9, 0, 1e10)).toMatch(/only 5.0 GB free/);
  });

  it('reports the data dir with its size, on the real file system', () => {
    file('kafka/x', 2500);
    const report = dataDirReport(root, 0);
    expect(report.info).toContain(`${root} (2.5 kB, resuming`);
    expect(report.warning).toBeUndefined();
    // No file system has this much free: the warning must come.
    expect(dataDirReport(root, Number.MAX_SAFE_INTEGER).warning).toMatch(/free on the disk of/);
    expect(listDataDir(path.join(root, 'none'))).toEqual([]);
  });
});
