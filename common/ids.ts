/**
 * The zod schemas of the ids that travel through EmoStream, built from their one grammar in `common/id-grammar.ts`
 * (re-exported here, so every server-side caller imports ids from this module; browser code imports the grammar
 * alone and so bundles no zod). Why the rule is what it is: see `common/id-grammar.ts`.
 */
import { z } from 'zod';
import {
  CLUSTER_ID_MAX_LENGTH,
  CLUSTER_ID_PATTERN,
  ID_MAX_LENGTH,
  ID_PATTERN,
  ID_RULE,
} from './id-grammar.ts';

export * from './id-grammar.ts';

/**
 * zod schema of an id. Length is checked before the characters, so a too-long id is reported as such
 * (`too_big`) rather than as a bad character.
 */
export const idSchema = z.string().min(1).max(ID_MAX_LENGTH).regex(ID_PATTERN, `must be ${ID_RULE}`);

/** A match id: names the Socket.IO room of the match, keys its reactions on Kafka. */
export const matchIdSchema = idSchema;
/** A user id (ingest also accepts a non-negative integer and keeps its decimal string). */
export const userIdSchema = idSchema;
/** A subscriber node id, as in `PUT /v1/nodes/{node_id}` and `NODE_ID`. */
export const nodeIdSchema = idSchema;

/** zod schema of a cluster id. */
export const clusterIdSchema = z
  .string()
  .regex(
    CLUSTER_ID_PATTERN,
    `must be 1–${CLUSTER_ID_MAX_LENGTH} lowercase letters, digits and -, starting with a letter or digit`,
  );
