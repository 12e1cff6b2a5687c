/**
 * Turns what real clients send as an emoji — the character with or without variation selectors, or a short name
 * such as `fire`, `:fire:`, `thumbs_up`, `+1`, `clap`, `heart` — into one canonical character sequence: the Unicode
 * fully-qualified form (UTS #51), so 👍 and 👍️ and `:+1:` all become the same string on Kafka.
 *
 * The emoji set and the short names come from emojibase-data (Unicode's emoji list including skin tones, with the
 * GitHub, Slack, emojibase and CLDR short names); emoji-regex tells "several emoji" from "no emoji" for the error.
 * Names reaction buttons send that those tables lack (`like`, `love`, `wow`, `haha`, `goal` …) come from a reviewed
 * alias table, `emoji-aliases.json`, which an operator can extend or replace. An unknown name is answered with the
 * nearest known names (edit distance), so a client sees what it probably meant.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import emojiRegex from 'emoji-regex';
import { distance } from 'fastest-levenshtein';
import { LRUCache } from 'lru-cache';

interface EmojibaseEntry {
  emoji: string;
  /** Absent on lone regional indicators, which are flag halves, not emoji. */
  group?: number;
  skins?: EmojibaseEntry[];
}
type ShortcodeTable = Record<string, string | string[]>;

const require = createRequire(import.meta.url);

/** Why an input is not an acceptable emoji. */
export type EmojiRejection = 'not_emoji' | 'multiple_emoji' | 'unknown_short_name' | 'not_allowed';

/**
 * Result of {@link EmojiNormalizer.normalize}: the canonical emoji, or why there is none. An `unknown_short_name`
 * carries the nearest known names (best first, possibly none).
 */
export type EmojiResult =
  | { ok: true; emoji: string }
  | { ok: false; reason: EmojiRejection; suggestions?: string[] };

const VARIATION_SELECTORS = /[\uFE0E\uFE0F]/g;
const SKIN_TONE = /^\p{Emoji_Modifier}$/u;
const NEEDS_VS16 = /^\p{Emoji}$/u;
const EMOJI_PRESENTATION = /^\p{Emoji_Presentation}$/u;
// In u-mode a surrogate pair is one code point, so this matches only unpaired halves.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const SHORT_NAME = /^:?([a-z0-9_+\-' ]{1,60}):?$/i;
/** Most names an unknown-name answer suggests. */
const MAX_SUGGESTIONS = 3;
/** Most suggestion scans (over every known name) per second and normaliser; cached answers do not count. */
const SCANS_PER_SECOND = 100;

function sharedPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/** The lookup key of a short name: lower case, runs of spaces and dashes as one underscore. */
function nameKey(name: string): string {
  return name.toLowerCase().replace(/[\s-]+/g, '_');
}

/**
 * The fully-qualified form of a sequence without variation selectors: VS16 after every emoji code point whose
 * default presentation is text, unless a skin-tone modifier follows (UTS #51, "fully-qualified emoji").
 */
export function fullyQualify(bare: string): string {
  const cps = Array.from(bare);
  let out = '';
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i] as string;
    out += cp;
    const next = cps[i + 1];
    if (
      NEEDS_VS16.test(cp) &&
      !EMOJI_PRESENTATION.test(cp) &&
      !SKIN_TONE.test(cp) &&
      (next === undefined || !SKIN_TONE.test(next))
    ) {
      out += '\uFE0F';
    }
  }
  return out;
}

function stripVariationSelectors(s: string): string {
  return s.replace(VARIATION_SELECTORS, '');
}

/** Lookup tables built once per process from emojibase-data (about 4 000 emoji and their short names). */
interface EmojiTables {
  /** Any accepted spelling (bare, fully-qualified, emojibase's own) → canonical. */
  byCharacter: Map<string, string>;
  /** Lower-case short name → canonical. */
  byName: Map<string, string>;
}

let tables: EmojiTables | undefined;

function loadTables(): EmojiTables {
  if (tables) return tables;
  const data = require('emojibase-data/en/data.json') as EmojibaseEntry[];
  const byCharacter = new Map<string, string>();
  const byHexcode = new Map<string, string>();
  const add = (entry: EmojibaseEntry): void => {
    const bare = stripVariationSelectors(entry.emoji);
    const canonical = fullyQualify(bare);
    byCharacter.set(bare, canonical);
    byCharacter.set(canonical, canonical);
    byCharacter.set(entry.emoji, canonical);
    byHexcode.set(hexcodeOf(bare), canonical);
  };
  for (const entry of data) {
    if (entry.group === undefined) continue;
    add(entry);
    for (const skin of entry.skins ?? []) add(skin);
  }
  // Earlier tables win a name clash: GitHub and Slack names are what chat-style clients send.
  const byName = new Map<string, string>();
  for (const file of ['github', 'iamcal', 'emojibase', 'cldr']) {
    const table = require(`emojibase-data/en/shortcodes/${file}.json`) as ShortcodeTable;
    for (const [hexcode, names] of Object.entries(table)) {
      const canonical = byHexcode.get(stripHexVariation(hexcode));
      if (canonical === undefined) continue;
      for (const name of Array.isArray(names) ? names : [names]) {
        const key = name.toLowerCase();
        if (!byName.has(key)) byName.set(key, canonical);
      }
    }
  }
  tables = { byCharacter, byName };
  return tables;
}

function hexcodeOf(s: string): string {
  return Array.from(s, (c) => (c.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0')).join(
    '-',
  );
}

function stripHexVariation(hexcode: string): string {
  return hexcode
    .split('-')
    .filter((h) => h !== 'FE0F' && h !== 'FE0E')
    .join('-');
}

/**
 * An alias table (the shape of `emoji-aliases.json`): alias name → the emoji it means, either the emoji itself or
 * `{ emoji, why }` with the reason the mapping is not obvious.
 */
export interface EmojiAliasTable {
  /** Alias name (short-name shape) → canonical emoji. */
  aliases: Record<string, string>;
  /** Drop the built-in aliases instead of adding to them. @default false */
  replace: boolean;
}

/** Raised for an alias table that is not valid JSON of the documented shape, or maps a name to a non-emoji. */
export class EmojiAliasError extends Error {
  override readonly name = 'EmojiAliasError';
}

/** The built-in, reviewed alias table beside this module. */
export const DEFAULT_EMOJI_ALIASES = new URL('./emoji-aliases.json', import.meta.url);

/**
 * Parses and checks an alias table: every name has the short-name shape, every target is one known emoji (stored
 * canonical). `source` names the file in errors.
 */
export function parseEmojiAliases(text: string, source: string): EmojiAliasTable {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new EmojiAliasError(`${source} is not JSON: ${(err as Error).message}`);
  }
  const root = doc as { aliases?: unknown; replace?: unknown } | null;
  if (
    typeof root !== 'object' ||
    root === null ||
    typeof root.aliases !== 'object' ||
    root.aliases === null
  ) {
    throw new EmojiAliasError(`${source} must be an object with an "aliases" object`);
  }
  if (root.replace !== undefined && typeof root.replace !== 'boolean') {
    throw new EmojiAliasError(`${source}: "replace" must be true or false`);
  }
  const { byCharacter } = loadTables();
  const aliases: Record<string, string> = {};
  for (const [name, value] of Object.entries(root.aliases as Record<string, unknown>)) {
    const target =
      typeof value === 'string' ? value : ((value as { emoji?: unknown } | null)?.emoji ?? undefined);
    if (!SHORT_NAME.test(name) || name.includes(':')) {
      throw new EmojiAliasError(
        `${source}: alias ${JSON.stringify(name)} is not a short name (a-z 0-9 _ + - ' space)`,
      );
    }
    const canonical =
      typeof target === 'string'
        ? (byCharacter.get(target) ?? byCharacter.get(stripVariationSelectors(target)))
        : undefined;
    if (canonical === undefined) {
      throw new EmojiAliasError(
        `${source}: alias ${JSON.stringify(name)} must map to one emoji (a string or {"emoji": …}), got ${JSON.stringify(value)}`,
      );
    }
    aliases[nameKey(name)] = canonical;
  }
  return { aliases, replace: root.replace === true };
}

/** Reads an alias table file (see {@link parseEmojiAliases}). */
export function readEmojiAliases(file: string | URL): EmojiAliasTable {
  const source = String(file instanceof URL ? file.pathname : file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new EmojiAliasError(`cannot read ${source}: ${(err as Error).message}`);
  }
  return parseEmojiAliases(text, source);
}

let defaultAliases: Record<string, string> | undefined;

/** The built-in aliases, read once per process. */
export function defaultEmojiAliases(): Readonly<Record<string, string>> {
  defaultAliases ??= readEmojiAliases(DEFAULT_EMOJI_ALIASES).aliases;
  return defaultAliases;
}

/** Options of {@link createEmojiNormalizer}. */
export interface EmojiNormalizerOptions {
  /** Aliases added to (or, with `replace`, replacing) the built-in table; they win over the short-name tables. */
  aliases?: EmojiAliasTable;
  /** Clock (epoch ms) of the suggestion budget; injectable for tests. @default Date.now */
  now?: () => number;
}

/** Normalises emoji input and applies the optional allowlist. */
export interface EmojiNormalizer {
  normalize(input: string): EmojiResult;
  /** The canonical allowlist, or undefined when any single emoji is accepted. */
  readonly allowlist: ReadonlySet<string> | undefined;
}

/** Raised at start-up for an allowlist entry that is not an emoji. */
export class EmojiAllowlistError extends Error {
  override readonly name = 'EmojiAllowlistError';
}

/**
 * Creates a normaliser. `allowlist` entries are themselves normalised (so `fire`, `🔥` and `:fire:` name the same
 * palette entry); an entry that is not an emoji throws {@link EmojiAllowlistError}.
 */
export function createEmojiNormalizer(
  allowlist?: readonly string[],
  options: EmojiNormalizerOptions = {},
): EmojiNormalizer {
  const { byCharacter, byName } = loadTables();
  const regex = emojiRegex();
  const extra = options.aliases;
  const now = options.now ?? Date.now;
  // An alias wins over a table name: an operator's table may say `football` means ⚽ rather than 🏈.
  const aliases = new Map(
    Object.entries({ ...(extra?.replace ? {} : defaultEmojiAliases()), ...extra?.aliases }),
  );

  function byShortName(key: string): string | undefined {
    const k = nameKey(key);
    return aliases.get(k) ?? byName.get(key) ?? byName.get(k);
  }

  function canonicalOf(input: string): EmojiResult {
    const direct = byCharacter.get(input) ?? byCharacter.get(stripVariationSelectors(input));
    if (direct !== undefined) return { ok: true, emoji: direct };
    const name = SHORT_NAME.exec(input);
    if (name) {
      const key = (name[1] as string).toLowerCase();
      const hit = byShortName(key);
      if (hit !== undefined) return { ok: true, emoji: hit };
      // Digits and '#', '*' match the short-name shape but are not emoji by themselves.
      return { ok: false, reason: 'unknown_short_name', suggestions: suggest(nameKey(key)) };
    }
    if (LONE_SURROGATE.test(input)) return { ok: false, reason: 'not_emoji' };
    const found = input.match(regex);
    if (found === null || found.length === 0) return { ok: false, reason: 'not_emoji' };
    if (found.length > 1) return { ok: false, reason: 'multiple_emoji' };
    // One emoji-looking match plus other text, or a sequence not in the Unicode emoji list.
    return { ok: false, reason: 'not_emoji' };
  }

  // Built on the first unknown name, after the palette (an unknown allowlist entry throws before any is served).
  let names: string[] | undefined;
  // One scan of the ~10k names per distinct unknown name, however often clients repeat it (a buggy client
  // repeats one typo), and at most SCANS_PER_SECOND scans: each costs about a millisecond, so a batch of a thousand
  // distinct made-up names must not hold the event loop for a second. Past the budget the answer has no suggestions.
  const suggestions = new LRUCache<string, string[]>({ max: 1000 });
  let scanWindow = 0;
  let scansInWindow = 0;
  let allowed: Set<string> | undefined;
  if (allowlist && allowlist.length > 0) {
    allowed = new Set();
    for (const entry of allowlist) {
      const r = canonicalOf(entry.trim());
      if (!r.ok)
        throw new EmojiAllowlistError(
          `allowlist entry ${JSON.stringify(entry)} is not an emoji (${r.reason})`,
        );
      allowed.add(r.emoji);
    }
  }

  // Names a suggestion may offer: every name and alias (by lookup key), only those of the palette when one is set.
  function suggestable(): string[] {
    if (names) return names;
    const keys = new Set<string>();
    for (const [name, emoji] of [...byName, ...aliases]) {
      if (allowed === undefined || allowed.has(emoji)) keys.add(nameKey(name));
    }
    names = [...keys].sort();
    return names;
  }
  /**
   * Known names within a small edit distance of `key` (1 up to 3 characters, 2 up to 8, else 3), nearest first;
   * among equals, same letters in another order first (a swap, which Levenshtein counts twice), then the longest
   * shared prefix (typos keep the start of a word), then the closest length.
   */
  function suggest(key: string): string[] {
    const cached = suggestions.get(key);
    if (cached) return [...cached];
    const second = Math.floor(now() / 1000);
    if (second !== scanWindow) {
      scanWindow = second;
      scansInWindow = 0;
    }
    if (++scansInWindow > SCANS_PER_SECOND) return [];
    const limit = key.length <= 3 ? 1 : key.length <= 8 ? 2 : 3;
    const letters = [...key].sort().join('');
    const near: { name: string; d: number; len: number; prefix: number; swap: boolean }[] = [];
    for (const name of suggestable()) {
      const len = Math.abs(name.length - key.length);
      if (len > limit) continue;
      const d = distance(key, name);
      // d < key.length: a suggestion keeps at least one character of what was sent.
      if (d <= limit && d < key.length) {
        const swap = len === 0 && [...name].sort().join('') === letters;
        near.push({ name, d, len, prefix: sharedPrefix(key, name), swap });
      }
    }
    near.sort(
      (a, b) =>
        a.d - b.d ||
        Number(b.swap) - Number(a.swap) ||
        b.prefix - a.prefix ||
        a.len - b.len ||
        (a.name < b.name ? -1 : 1),
    );
    const out = near.slice(0, MAX_SUGGESTIONS).map((n) => n.name);
    suggestions.set(key, out);
    return [...out];
  }

  return {
    allowlist: allowed,
    normalize(input) {
      const r = canonicalOf(input);
      if (r.ok && allowed !== undefined && !allowed.has(r.emoji)) return { ok: false, reason: 'not_allowed' };
      return r;
    },
  };
}
