export type { ReactionRecord } from '../common/records.ts';

/** Name of the schema file under `schemas/`. */
export const REACTION_SCHEMA = 'reaction';
