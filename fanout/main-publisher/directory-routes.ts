/**
 * The HTTP face of the directory, mounted by the main publisher: node heartbeats, viewer assignment and the
 * snapshots nodes fetch when their first viewer of a match joins. `openapi.yaml` beside this file is its
 * contract (served at `GET /openapi.yaml`).
 *
 * - `GET /v1/assign?match_id=…[&exclude=node,…]` → 200 {@link Assignment} | 400 | 503 (no live node)
 * - `PUT /v1/nodes/:node_id` (body {@link NodeReport}) → 204 | 400 | 413 | 415 | 503 (directory full)
 * - `DELETE /v1/nodes/:node_id` → 204 | 400 | 404
 * - `GET /v1/nodes` → the live nodes and their load
 * - `GET /v1/matches/:match_id/windows` → `{ match_id, windows }` (recent windows, oldest first)
 *
 * Every refusal is the shared problem+json (`common/problem.ts`); another method on one of these paths is 405.
 */
import { readFileSync } from 'node:fs';
import express, { type Express } from 'express';
import * as z from 'zod';
import { matchIdSchema, nodeIdSchema } from '../../common/ids.ts';
import { fieldProblems, methodNotAllowed } from '../../common/problem.ts';
import type { SwarmMessage } from '../../common/socket-events.ts';
import { DirectoryFullError, NotFoundError, problems, ValidationError } from '../errors.ts';
import { type Assignment, type Directory, type NodeReport, nodeReportSchema } from './directory.ts';

const OPENAPI = readFileSync(new URL('./openapi.yaml', import.meta.url), 'utf8');

/** Most node ids of `exclude` that are honoured (a viewer excludes the few nodes it just lost). */
const MAX_EXCLUDED = 16;

/** Query of `GET /v1/assign`: a viewer may only be sent to a node for a match id it can join. */
export const assignQuerySchema = z.object({
  match_id: matchIdSchema,
  /** Comma list of node ids to avoid. */
  exclude: z
    .string()
    .max(MAX_EXCLUDED * 65)
    .optional(),
});

const nodePathSchema = z.object({ node_id: nodeIdSchema });
const matchPathSchema = z.object({ match_id: matchIdSchema });
/** Issues carry the input, so a present-but-wrong field is told from a missing one. */
const PARSE_OPTIONS = { reportInput: true } as const;

/** `value` parsed by `schema`, or a {@link ValidationError} naming every bad field. */
function parseOr<S extends z.ZodType>(schema: S, value: unknown, title: string): z.output<S> {
  const r = schema.safeParse(value, PARSE_OPTIONS);
  if (!r.success) throw new ValidationError(title, fieldProblems(r.error.issues));
  return r.data;
}

/** What {@link mountDirectoryRoutes} serves from. */
export interface DirectoryRoutesOptions {
  directory: Directory;
  /** Recent windows of a match, oldest first. */
  snapshot: (matchId: string) => SwarmMessage[];
  /** Called after each accepted node report. */
  onReport?: (report: NodeReport) => void;
}

/** Adds the directory routes to an app. */
export function mountDirectoryRoutes(app: Express, options: DirectoryRoutesOptions): void {
  const { directory } = options;
  const getOnly = methodNotAllowed(['GET', 'HEAD']);
  // A report is JSON; anything else is refused before the body is read. Only on the report route, so other
  // paths and methods get their 404/405 whatever they send.
  const jsonBody: [express.RequestHandler, express.RequestHandler] = [
    (req, _res, next) => {
      if (req.is('application/json')) next();
      else next(problems.unsupportedMediaType(req.get('content-type')));
    },
    express.json({ limit: '512kb' }),
  ];
  app
    .route('/v1/assign')
    .get((req, res) => {
      const query = parseOr(assignQuerySchema, req.query, 'Invalid assignment request');
      const exclude = query.exclude === undefined ? [] : query.exclude.split(',').slice(0, MAX_EXCLUDED);
      const assignment: Assignment = directory.assign(new Set(exclude));
      res.json(assignment);
    })
    .all(getOnly);
  app
    .route('/v1/nodes')
    .get((_req, res) => {
      res.json({ nodes: directory.nodes() });
    })
    .all(getOnly);
  app
    .route('/v1/nodes/:node_id')
    .put(...jsonBody, (req, res) => {
      const { node_id } = parseOr(nodePathSchema, req.params, 'Invalid node id');
      const report = parseOr(nodeReportSchema, req.body, 'Invalid node report');
      if (!directory.report(node_id, report)) throw new DirectoryFullError();
      options.onReport?.(report);
      res.status(204).end();
    })
    .delete((req, res) => {
      const { node_id } = parseOr(nodePathSchema, req.params, 'Invalid node id');
      if (!directory.remove(node_id)) throw new NotFoundError(`unknown node ${node_id}`);
      res.status(204).end();
    })
    .all(methodNotAllowed(['PUT', 'DELETE']));
  app
    .route('/v1/matches/:match_id/windows')
    .get((req, res) => {
      const { match_id } = parseOr(matchPathSchema, req.params, 'Invalid match id');
      res.json({ match_id, windows: options.snapshot(match_id) });
    })
    .all(getOnly);
  app
    .route('/openapi.yaml')
    .get((_req, res) => {
      res.type('application/yaml; charset=utf-8').send(OPENAPI);
    })
    .all(getOnly);
}
