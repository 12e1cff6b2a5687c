/**
 * Turns what real clients send as an emoji — the character with or without variation selectors, or a short name
 * such as `fire`, `:fire:`, `thumbs_up`, `+1`, `clap`, `heart` — into one canonical character sequence: the Unicode
 * fully-qualified form (UTS #51), so 👍 and 👍️ and `:+1:` all become the same string on Kafka.
 *
 * The emoji set and the short names come from emojibase-data (Unicode's emoji list including skin tones, with the
 * GitHub, Slack, emojibase and CLDR short names); emoji-regex tells "several emoji" from "no emoji" for the error.
 */
import { createRequire } from 'node:module';
import emojiRegex from 'emoji-regex';

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

/** Result of {@link EmojiNormalizer.normalize}: the canonical emoji, or why there is none. */
export type EmojiResult = { ok: true; emoji: string } | { ok: false; reason: EmojiRejection };

const VARIATION_SELECTORS = /[\uFE0E\uFE0F]/g;
const SKIN_TONE = /^\p{Emoji_Modifier}$/u;
const NEEDS_VS16 = /^\p{Emoji}$/u;
const EMOJI_PRESENTATION = /^\p{Emoji_Presentation}$/u;
// In u-mode a surrogate pair is one code point, so this matches only unpaired halves.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const SHORT_NAME = /^:?([a-z0-9_+\-' ]{1,60}):?$/i;

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
export function createEmojiNormalizer(allowlist?: readonly string[]): EmojiNormalizer {
  const { byCharacter, byName } = loadTables();
  const regex = emojiRegex();

  function canonicalOf(input: string): EmojiResult {
    const direct = byCharacter.get(input) ?? byCharacter.get(stripVariationSelectors(input));
    if (direct !== undefined) return { ok: true, emoji: direct };
    const name = SHORT_NAME.exec(input);
    if (name) {
      const key = (name[1] as string).toLowerCase();
      const hit = byName.get(key) ?? byName.get(key.replace(/[\s-]+/g, '_'));
      if (hit !== undefined) return { ok: true, emoji: hit };
      // Digits and '#', '*' match the short-name shape but are not emoji by themselves.
      return { ok: false, reason: 'unknown_short_name' };
    }
    if (LONE_SURROGATE.test(input)) return { ok: false, reason: 'not_emoji' };
    const found = input.match(regex);
    if (found === null || found.length === 0) return { ok: false, reason: 'not_emoji' };
    if (found.length > 1) return { ok: false, reason: 'multiple_emoji' };
    // One emoji-looking match plus other text, or a sequence not in the Unicode emoji list.
    return { ok: false, reason: 'not_emoji' };
  }

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

  return {
    allowlist: allowed,
    normalize(input) {
      const r = canonicalOf(input);
      if (r.ok && allowed !== undefined && !allowed.has(r.emoji)) return { ok: false, reason: 'not_allowed' };
      return r;
    },
  };
}
