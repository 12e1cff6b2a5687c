/**
 * The one grammar of the ids that travel through EmoStream (zod-free, so the browser bundle can check ids without
 * zod; `common/ids.ts` re-exports it with the zod schemas built from it): match ids, user ids and subscriber node ids share
 * {@link ID_PATTERN_SOURCE}; cluster ids, which become part of Kafka topic names and consumer group ids, have the
 * narrower {@link CLUSTER_ID_PATTERN_SOURCE}. Ingest's validator, ingest and fan-out configs, the directory's
 * routes, the Socket.IO payload schemas and the OpenAPI `pattern`s all derive from here (the specs are checked
 * against these sources by `common/ids.test.ts`).
 *
 * Why this rule — 1 to 64 characters, letters, digits and `_ . : @ -`, the first a letter or digit:
 * - every character is an RFC 3986 `pchar` (unreserved, `:` or `@`), so an id sits in a URL path segment or a
 *   query value as it is, and reads back the same whether or not a client percent-encodes it;
 * - a leading letter or digit rules out the dot-segments `.` and `..` (URL resolution removes them, so
 *   `/v1/matches/../windows` would never reach its route) and ids that read as command-line options (`-x`);
 * - no space, `/`, `,`, `%`, `?`, `#`, quote or control character: an id can neither split a comma list
 *   (`exclude=`), nor break a log line, header or file name, nor carry anything else into a Socket.IO room name
 *   (`match:<id>`);
 * - `@` is kept because user ids are often e-mail-like and match ids such as `team@home` were already accepted
 *   by ingest; refusing them at ingest would break senders, while fan-out can take them at no risk;
 * - bounded, because ids are Kafka keys and Spark group keys.
 */

/** Longest match, user or node id, in characters. */
export const ID_MAX_LENGTH = 64;

/** Source of the id regex, anchored; the OpenAPI specs carry it verbatim as their `pattern`. */
export const ID_PATTERN_SOURCE = `^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,${ID_MAX_LENGTH - 1}}$`;

/** The id regex ({@link ID_PATTERN_SOURCE}). It has no global flag, so `test` keeps no state between calls. */
export const ID_PATTERN = new RegExp(ID_PATTERN_SOURCE);

/** What an id may hold, in words, for error details. */
export const ID_RULE = `1–${ID_MAX_LENGTH} letters, digits and _ . : @ -, starting with a letter or digit`;

/** True if `value` is a well-formed id (the fast path of validators that check by hand). */
export function isId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

/** Longest cluster id, in characters (it is embedded in topic and group names, which Kafka bounds). */
export const CLUSTER_ID_MAX_LENGTH = 32;

/**
 * Source of the cluster id regex: lowercase letters, digits and `-`, starting with a letter or digit. Narrower
 * than {@link ID_PATTERN_SOURCE} because cluster ids become part of Kafka topic names (`<prefix>.<cluster>`),
 * where `.` and `_` collide in Kafka's metric names and case-only differences make confusable topics.
 */
export const CLUSTER_ID_PATTERN_SOURCE = `^[a-z0-9][a-z0-9-]{0,${CLUSTER_ID_MAX_LENGTH - 1}}$`;

/** The cluster id regex ({@link CLUSTER_ID_PATTERN_SOURCE}). */
export const CLUSTER_ID_PATTERN = new RegExp(CLUSTER_ID_PATTERN_SOURCE);
