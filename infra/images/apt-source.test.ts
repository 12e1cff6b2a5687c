import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findAptSource, parseCodename, parseDeb822, parseOneLine, pickDebianSource } from './apt-source.ts';

const deb822 = `Types: deb
# a snapshot comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
`;

describe('parseDeb822 / parseOneLine', () => {
  it('reads stanzas with several suites and skips comments', () => {
    const entries = parseDeb822(deb822);
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({
      uris: ['http://mirror.example/debian'],
      suites: ['bookworm', 'bookworm-updates'],
    });
  });

  it('honours Enabled: no and continuation lines', () => {
    const entries = parseDeb822(
      'Types: deb\nEnabled: no\nURIs: http://a/debian\nSuites: bookworm\nComponents: main\n\n' +
        'Types: deb\nURIs:\n http://b/debian\nSuites: bookworm\nComponents: main contrib\n',
    );
    expect(pickDebianSource(entries, 'bookworm')).toEqual({
      uri: 'http://b/debian',
      suite: 'bookworm',
      components: ['main', 'contrib'],
    });
  });

  it('reads one-line entries with options and ignores deb-src and comments', () => {
    const entries = parseOneLine(
      '# deb http://old/debian bookworm main\ndeb-src http://src/debian bookworm main\n' +
        'deb [arch=amd64 signed-by=/k.gpg] http://c/debian bookworm main non-free\n',
    );
    expect(pickDebianSource(entries, 'bookworm')?.uri).toBe('http://c/debian');
  });

  it('refuses sources for another release or without main', () => {
    expect(pickDebianSource(parseOneLine('deb http://c/debian trixie main\n'), 'bookworm')).toBeUndefined();
    expect(
      pickDebianSource(parseOneLine('deb http://c/debian bookworm contrib\n'), 'bookworm'),
    ).toBeUndefined();
  });

  it('reads the code name, quoted or not', () => {
    expect(parseCodename('NAME="Debian"\nVERSION_CODENAME=bookworm\n')).toBe('bookworm');
    expect(parseCodename('VERSION_CODENAME="trixie"\n')).toBe('trixie');
    expect(parseCodename('NAME=x\n')).toBeUndefined();
  });
});

describe('findAptSource', () => {
  let root: string | undefined;
  afterEach(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('combines os-release with sources.list.d and names what is missing', async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'apt-source-'));
    await mkdir(path.join(root, 'etc/apt/sources.list.d'), { recursive: true });
    await writeFile(path.join(root, 'etc/os-release'), 'VERSION_CODENAME=bookworm\n');
    await expect(findAptSource(root)).rejects.toThrow(/suite "bookworm" with component "main"/);
    await writeFile(path.join(root, 'etc/apt/sources.list.d/debian.sources'), deb822);
    await writeFile(
      path.join(root, 'etc/apt/sources.list.d/other.list.disabled'),
      'deb http://x/debian bookworm main\n',
    );
    expect(await findAptSource(root)).toEqual({
      uri: 'http://mirror.example/debian',
      suite: 'bookworm',
      components: ['main'],
    });
  });
});
