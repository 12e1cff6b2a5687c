/**
 * Liberal in, strict out: the request bodies ingest accepts, validated with zod schemas compiled once, and
 * normalised to what reaches Kafka (canonical emoji, user id as a string, client timestamp in epoch ms).
 * Every bad field is reported, each once, with a stable machine-readable code.
 */
import * as z from 'zod';
import { ID_MAX_LENGTH, idSchema, isId } from '../common/ids.ts';
import { type FieldProblem, fieldProblems } from '../common/problem.ts';
import type { EmojiNormalizer, EmojiRejection } from './emoji-normalizer.ts';

/** A reaction that passed validation, before ingest adds the event id and ingest timestamp. */
export interface ValidReaction {
  match_id: string;
  user_id: string;
  emoji: string;
  /** Client timestamp, epoch milliseconds. */
  client_ts: number;
}

export type ValidationResult = { ok: true; value: ValidReaction } | { ok: false; problems: FieldProblem[] };

/** Outcome of a batch body: whole-request problems, or one result per item in order. */
export type BatchValidationResult =
  | { ok: false; problems: FieldProblem[] }
  | { ok: true; items: ValidationResult[] };

/** Options of {@link createReactionValidator}. */
export interface ReactionValidatorOptions {
  normalizer: EmojiNormalizer;
  /** Match of seed-style `POST /emoji` bodies, which carry none. */
  defaultMatchId: string;
  /** How far ahead of the server clock a client timestamp may be. @default 30000 */
  skewAheadMs: number;
  /** How far behind the server clock a client timestamp may be. @default 300000 */
  skewBehindMs: number;
  /** Most reactions in one batch request. */
  maxBatchItems: number;
  /** Server clock (epoch ms); injectable for tests. */
  now?: () => number;
  /**
   * Use the hand-checked fast path for well-formed bodies. Off, every body goes through the zod schemas: the
   * reference `reaction-validator.diff.test.ts` compares the fast path against. @default true
   */
  fastPath?: boolean;
}

const MAX_EMOJI_INPUT = 64;
/** Issues carry the offending input so a present-but-wrong field is told from a missing one. */
const PARSE_OPTIONS = { reportInput: true } as const;
const MAX_TIMESTAMP_INPUT = 40;

/** Epoch values below this are seconds (1e11 s is the year 5138; 1e11 ms is 1973). */
const SECONDS_BELOW = 1e11;
const EPOCH_STRING = /^\d{1,16}(?:\.\d{1,9})?$/;
// ISO 8601 date-time, extended or basic offset, any fraction of a second; no offset means UTC.
const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,12}))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?$/;

/**
 * Parses a client timestamp: ISO 8601 (offset optional, UTC if absent; any fraction, truncated to ms), epoch
 * seconds or epoch milliseconds (number or digit string, fractions allowed). Returns epoch ms, or undefined.
 */
export function parseTimestamp(value: string | number): number | undefined {
  if (typeof value === 'number') return epochToMs(value);
  if (EPOCH_STRING.test(value)) return epochToMs(Number(value));
  const m = ISO_DATE_TIME.exec(value);
  if (m === null) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const millis = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  // Date.UTC rolls 31 April over to 1 May; a rolled-over day is not a date.
  if (new Date(ms).getUTCDate() !== day || day < 1) return undefined;
  if (m[9] === undefined) return ms;
  const offHours = Number(m[10]);
  const offMinutes = m[11] === undefined ? 0 : Number(m[11]);
  if (offHours > 23 || offMinutes > 59) return undefined;
  const offset = (offHours * 60 + offMinutes) * 60_000;
  return m[9] === '+' ? ms - offset : ms + offset;
}

function epochToMs(n: number): number | undefined {
  if (!Number.isFinite(n) || n < 0) return undefined;
  return Math.trunc(n < SECONDS_BELOW ? n * 1000 : n);
}

const EMOJI_DETAIL: Record<EmojiRejection, string> = {
  not_emoji: 'is not an emoji',
  multiple_emoji: 'must be exactly one emoji',
  unknown_short_name: 'is not a known emoji short name',
  not_allowed: 'is not in the allowed emoji palette',
};

/** Validators of the three request body shapes. */
export interface ReactionValidator {
  /** `POST /v1/reactions`: `{match_id, user_id, emoji, timestamp}`. */
  reaction(body: unknown): ValidationResult;
  /** `POST /emoji` (seed-compatible): `{user_id, emoji_type, timestamp}`, match = the configured default. */
  seed(body: unknown): ValidationResult;
  /** `POST /v1/reactions:batch`: `{reactions: [...]}`, each item as {@link ReactionValidator.reaction}. */
  batch(body: unknown): BatchValidationResult;
}

/** Builds the zod schemas once; the returned functions are the hot path. */
export function createReactionValidator(options: ReactionValidatorOptions): ReactionValidator {
  const now = options.now ?? Date.now;
  const { normalizer, skewAheadMs, skewBehindMs } = options;

  // Integers are accepted for ids and kept as their decimal string; everything else must be an id string of the
  // one grammar (common/ids.ts), so whatever is stored here is joinable by a viewer.
  const id = z.preprocess(
    (v) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? String(v) : v),
    z.string({ error: 'must be a string or a non-negative integer' }).pipe(idSchema),
  );

  const emoji = z
    .string({ error: 'must be a string' })
    .max(MAX_EMOJI_INPUT)
    .transform((input, ctx) => {
      const r = normalizer.normalize(input);
      if (r.ok) return r.emoji;
      const params = { code: r.reason, suggestions: r.suggestions };
      ctx.addIssue({ code: 'custom', message: EMOJI_DETAIL[r.reason], params });
      return z.NEVER;
    });

  // One transform rather than a string|number union, so a bad value gets one precise problem.
  const timestamp = z.unknown().transform((input, ctx) => {
    const problem = timestampProblem(input);
    if (typeof problem === 'number') return problem;
    ctx.addIssue({ code: 'custom', message: problem[1], params: { code: problem[0] } });
    return z.NEVER;
  });

  /** The timestamp in epoch ms, or [code, message] of why it is refused. No closures: this runs per item. */
  function timestampProblem(input: unknown): number | [string, string] {
    if (input === undefined) return ['required', 'is required'];
    if (typeof input === 'string') {
      if (input.length > MAX_TIMESTAMP_INPUT)
        return ['too_long', `must be at most ${MAX_TIMESTAMP_INPUT} characters`];
    } else if (typeof input !== 'number') {
      return ['wrong_type', 'must be an ISO 8601 string or an epoch number'];
    }
    const ms = parseTimestamp(input);
    if (ms === undefined)
      return ['invalid_timestamp', 'must be ISO 8601, epoch seconds or epoch milliseconds'];
    const t = now();
    if (ms > t + skewAheadMs)
      return ['timestamp_in_future', `is more than ${skewAheadMs} ms ahead of the server clock`];
    if (ms < t - skewBehindMs)
      return ['timestamp_too_old', `is more than ${skewBehindMs} ms behind the server clock`];
    return ms;
  }

  const asObject = { error: 'must be a JSON object' };
  const reactionSchema = z.strictObject({ match_id: id, user_id: id, emoji, timestamp }, asObject);
  const seedSchema = z.strictObject({ user_id: id, emoji_type: emoji, timestamp }, asObject);
  const batchSchema = z.strictObject(
    { reactions: z.array(z.unknown(), { error: 'must be an array' }).min(1).max(options.maxBatchItems) },
    asObject,
  );

  /** A well-formed id as given, or undefined for anything the full schema has to judge (numbers, bad ids). */
  function plainId(v: unknown): string | undefined {
    // The length test first: it is cheaper than the regex and bounds the regex's input.
    return typeof v === 'string' && v.length <= ID_MAX_LENGTH && isId(v) ? v : undefined;
  }

  /**
   * The common well-formed body checked by hand: zod's generic machinery per item measured as the largest share of
   * a batch's cost. Accepts exactly what `reactionSchema` accepts for string ids; anything else (numeric ids, any
   * problem) returns undefined and goes through the schema, so every error answer comes from one place.
   * `reaction-validator.diff.test.ts` checks both claims against the schema-only validator on generated bodies.
   */
  function fastReaction(body: unknown): ValidationResult | undefined {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
    let keys = 0;
    for (const _ in body) keys++;
    if (keys !== 4) return undefined;
    const b = body as Record<string, unknown>;
    const matchId = plainId(b.match_id);
    const userId = plainId(b.user_id);
    const emojiIn = b.emoji;
    if (matchId === undefined || userId === undefined || typeof emojiIn !== 'string') return undefined;
    if (emojiIn.length > MAX_EMOJI_INPUT || !Object.hasOwn(b, 'timestamp')) return undefined;
    const e = normalizer.normalize(emojiIn);
    if (!e.ok) return undefined;
    const ts = timestampProblem(b.timestamp);
    if (typeof ts !== 'number') return undefined;
    return { ok: true, value: { match_id: matchId, user_id: userId, emoji: e.emoji, client_ts: ts } };
  }

  const fast = options.fastPath === false ? () => undefined : fastReaction;

  function reaction(body: unknown, prefix = ''): ValidationResult {
    return fast(body) ?? slowReaction(body, prefix);
  }

  function slowReaction(body: unknown, prefix: string): ValidationResult {
    const r = reactionSchema.safeParse(body, PARSE_OPTIONS);
    if (!r.success) return { ok: false, problems: fieldProblems(r.error.issues, prefix) };
    const v = r.data;
    return {
      ok: true,
      value: { match_id: v.match_id, user_id: v.user_id, emoji: v.emoji, client_ts: v.timestamp },
    };
  }

  /** `{reactions: [...]}` within the item limits, or undefined for the schema to judge. */
  function fastBatchList(body: unknown): unknown[] | undefined {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
    let keys = 0;
    for (const _ in body) keys++;
    const list = (body as { reactions?: unknown }).reactions;
    if (keys !== 1 || !Array.isArray(list) || !Object.hasOwn(body, 'reactions')) return undefined;
    return list.length >= 1 && list.length <= options.maxBatchItems ? list : undefined;
  }

  return {
    reaction: (body) => reaction(body),
    seed(body) {
      const r = seedSchema.safeParse(body, PARSE_OPTIONS);
      if (!r.success) return { ok: false, problems: fieldProblems(r.error.issues, '') };
      const v = r.data;
      return {
        ok: true,
        value: {
          match_id: options.defaultMatchId,
          user_id: v.user_id,
          emoji: v.emoji_type,
          client_ts: v.timestamp,
        },
      };
    },
    batch(body) {
      let list = options.fastPath === false ? undefined : fastBatchList(body);
      if (list === undefined) {
        const r = batchSchema.safeParse(body, PARSE_OPTIONS);
        if (!r.success) return { ok: false, problems: fieldProblems(r.error.issues, '') };
        list = r.data.reactions;
      }
      const items = new Array<ValidationResult>(list.length);
      for (let i = 0; i < list.length; i++) {
        // The field prefix is only built for an item that needs the full schema.
        items[i] = fast(list[i]) ?? slowReaction(list[i], `reactions[${i}]`);
      }
      return { ok: true, items };
    },
  };
}
