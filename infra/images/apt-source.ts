import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** A Debian archive the machine's apt already trusts: where debootstrap fetches the base root file system from. */
export interface AptSource {
  /** Archive base URI, e.g. the `URIs:` value of a deb822 stanza. */
  uri: string;
  /** Release code name (suite without `-updates`/`-security`), e.g. `bookworm`. */
  suite: string;
  /** Components the stanza lists; debootstrap needs `main`. */
  components: string[];
}

interface RawEntry {
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  enabled: boolean;
}

/** Parses deb822 `.sources` text (stanzas separated by blank lines; `#` comments; continuation lines). */
export function parseDeb822(text: string): RawEntry[] {
  const entries: RawEntry[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const line of stanza.split('\n')) {
      if (line.startsWith('#') || line.trim() === '') continue;
      if (/^\s/.test(line) && last) {
        fields.set(last, `${fields.get(last) ?? ''} ${line.trim()}`);
        continue;
      }
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      last = line.slice(0, colon).trim().toLowerCase();
      fields.set(last, line.slice(colon + 1).trim());
    }
    if (!fields.has('uris')) continue;
    const words = (key: string) => (fields.get(key) ?? '').split(/\s+/).filter(Boolean);
    entries.push({
      types: words('types'),
      uris: words('uris'),
      suites: words('suites'),
      components: words('components'),
      enabled: (fields.get('enabled') ?? 'yes').toLowerCase() !== 'no',
    });
  }
  return entries;
}

/** Parses one-line `sources.list` text: `deb [options] uri suite component...`. */
export function parseOneLine(text: string): RawEntry[] {
  const entries: RawEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const withoutOptions = line.replace(/\[[^\]]*\]/, ' ');
    const [type, uri, suite, ...components] = withoutOptions.split(/\s+/).filter(Boolean);
    if (!type || !uri || !suite) continue;
    entries.push({ types: [type], uris: [uri], suites: [suite], components, enabled: true });
  }
  return entries;
}

/**
 * Picks the archive that serves `codename` itself (not `-updates`/`-security`) with `main`, from parsed entries.
 * Returns undefined when none matches, so the caller can name what it looked for.
 */
export function pickDebianSource(entries: RawEntry[], codename: string): AptSource | undefined {
  for (const entry of entries) {
    if (!entry.enabled || !entry.types.includes('deb') || !entry.components.includes('main')) continue;
    if (!entry.suites.includes(codename)) continue;
    const uri = entry.uris.find((u) => /^https?:\/\//.test(u));
    if (uri) return { uri, suite: codename, components: entry.components };
  }
  return undefined;
}

/** Reads `VERSION_CODENAME` from an os-release text. */
export function parseCodename(osRelease: string): string | undefined {
  return /^VERSION_CODENAME=("?)([a-z]+)\1$/m.exec(osRelease)?.[2];
}

/**
 * Finds the Debian mirror this machine's apt is configured with, for this machine's release, reading
 * `/etc/apt/sources.list` and `/etc/apt/sources.list.d/*.{list,sources}` (the root is a parameter for tests).
 */
export async function findAptSource(root = '/'): Promise<AptSource> {
  const etc = path.join(root, 'etc');
  const codename = parseCodename(await readFile(path.join(etc, 'os-release'), 'utf8'));
  if (!codename) throw new Error(`no VERSION_CODENAME in ${path.join(etc, 'os-release')}`);
  const entries: RawEntry[] = [];
  const listFile = path.join(etc, 'apt', 'sources.list');
  entries.push(...parseOneLine(await readFile(listFile, 'utf8').catch(() => '')));
  const dir = path.join(etc, 'apt', 'sources.list.d');
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  for (const name of names) {
    const text = await readFile(path.join(dir, name), 'utf8');
    if (name.endsWith('.sources')) entries.push(...parseDeb822(text));
    else if (name.endsWith('.list')) entries.push(...parseOneLine(text));
  }
  const source = pickDebianSource(entries, codename);
  if (!source) {
    throw new Error(
      `apt has no enabled "deb" source for suite "${codename}" with component "main" ` +
        `(looked in ${listFile} and ${dir}); debootstrap needs one`,
    );
  }
  return source;
}
