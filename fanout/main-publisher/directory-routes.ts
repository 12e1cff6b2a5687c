/**
 * The HTTP face of the directory, mounted by the main publisher: node heartbeats, viewer assignment and the
 * snapshots nodes fetch when their first viewer of a match joins.
 *
 * - `GET /v1/assign?match_id=…[&exclude=node,…]` → 200 {@link Assignment} | 400 | 503 (no live node)
 * - `PUT /v1/nodes/:node_id` (body {@link NodeReport}) → 204 | 400 | 415 | 503 (directory full)
 * - `DELETE /v1/nodes/:node_id` → 204 | 404
 * - `GET /v1/nodes` → the live nodes and their load
 * - `GET /v1/matches/:match_id/windows` → `{ match_id, windows }` (recent windows, oldest first)
 */
import express, { type Express } from 'express';
import { matchIdSchema, type SwarmMessage } from '../../common/socket-events.ts';
import { NotFoundError, sendProblem, ValidationError } from '../errors.ts';
import { type Directory, type NodeReport, nodeIdSchema, nodeReportSchema } from './directory.ts';

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
  app.use('/v1/nodes', (req, res, next) => {
    if (req.method === 'PUT' && !req.is('application/json')) {
      sendProblem(res, 415, 'Unsupported Media Type', 'send application/json');
      return;
    }
    next();
  });
  app.use('/v1/nodes', express.json({ limit: '512kb' }));
  app.get('/v1/assign', (req, res) => {
    const matchId = matchIdSchema.safeParse(req.query.match_id);
    if (!matchId.success) throw new ValidationError('query parameter match_id is missing or invalid');
    const exclude = typeof req.query.exclude === 'string' ? req.query.exclude.split(',').slice(0, 16) : [];
    res.json(directory.assign(new Set(exclude)));
  });
  app.get('/v1/nodes', (_req, res) => {
    res.json({ nodes: directory.nodes() });
  });
  app.put('/v1/nodes/:node_id', (req, res) => {
    const nodeId = nodeIdSchema.safeParse(req.params.node_id);
    if (!nodeId.success) throw new ValidationError('invalid node id');
    const body = nodeReportSchema.safeParse(req.body);
    if (!body.success) {
      throw new ValidationError(
        'invalid node report',
        body.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      );
    }
    if (!directory.report(nodeId.data, body.data)) {
      res.setHeader('Retry-After', '5');
      sendProblem(res, 503, 'Service Unavailable', 'directory is full');
      return;
    }
    options.onReport?.(body.data);
    res.status(204).end();
  });
  app.delete('/v1/nodes/:node_id', (req, res) => {
    const nodeId = nodeIdSchema.safeParse(req.params.node_id);
    if (!nodeId.success) throw new ValidationError('invalid node id');
    if (!directory.remove(nodeId.data)) throw new NotFoundError(`unknown node ${nodeId.data}`);
    res.status(204).end();
  });
  app.get('/v1/matches/:match_id/windows', (req, res) => {
    const matchId = matchIdSchema.safeParse(req.params.match_id);
    if (!matchId.success) throw new ValidationError('invalid match id');
    res.json({ match_id: matchId.data, windows: options.snapshot(matchId.data) });
  });
}
