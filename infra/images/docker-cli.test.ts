import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { $, ProcessOutput } from 'zx';
import { docker, imageLabels, streamLines } from './docker-cli.ts';

// A stand-in `docker` first on PATH: answers `image inspect` for two names, fails otherwise.
const bin = mkdtempSync(path.join(tmpdir(), 'docker-cli-test-'));
const savedPath = process.env.PATH;
beforeAll(() => {
  writeFileSync(
    path.join(bin, 'docker'),
    [
      '#!/bin/sh',
      'case "$*" in',
      '  *" known") echo \'{"a":"1"}\' ;;',
      '  *" unlabelled") echo null ;;',
      '  *" missing") echo "Error: No such image: missing" >&2; exit 1 ;;',
      '  version*) echo "builder=$DOCKER_BUILDKIT"; cat ;;',
      '  *) echo "Cannot connect to the Docker daemon" >&2; exit 1 ;;',
      'esac',
    ].join('\n'),
  );
  chmodSync(path.join(bin, 'docker'), 0o755);
  process.env.PATH = `${bin}${path.delimiter}${savedPath}`;
});
afterAll(() => {
  process.env.PATH = savedPath;
  rmSync(bin, { recursive: true, force: true });
});

describe('docker CLI', () => {
  it('reads labels, and tells a missing image from a failing CLI', async () => {
    expect(await imageLabels('known')).toEqual({ a: '1' });
    expect(await imageLabels('unlabelled')).toEqual({});
    expect(await imageLabels('missing')).toBeUndefined();
    const failure = await imageLabels('daemon-down').catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ProcessOutput);
    expect(failure).toMatchObject({ exitCode: 1, stderr: 'Cannot connect to the Docker daemon\n' });
  });

  it('runs with the classic builder and feeds stdin', async () => {
    expect(await docker(['version'], { input: 'from stdin' })).toBe('builder=0\nfrom stdin');
  });

  it('streams output lines with a prefix, leaving out the quiet ones', async () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let written: unknown[] = [];
    try {
      const out = await streamLines(
        $({ quiet: true })`sh -c ${'echo one; echo noise >&2; echo two >&2'}`,
        '  x| ',
        /noise/,
      );
      expect(out.stdall).toContain('noise');
      written = write.mock.calls.map((c) => c[0]);
    } finally {
      write.mockRestore();
    }
    expect(written).toEqual(['  x| one\n', '  x| two\n']);
  });
});
