/**
 * The directory of subscriber nodes, kept by the main publisher: nodes report their address, load and the
 * matches they serve (a heartbeat that expires); viewers are assigned the least-loaded live node; the union of
 * a cluster's nodes' matches says which clusters a match's messages go to.
 */
import { z } from 'zod';
import { clusterIdSchema, matchIdSchema } from '../../common/ids.ts';
import { NoNodeAvailableError } from '../errors.ts';

/** Body of `PUT /v1/nodes/:node_id` (a node's heartbeat). */
export const nodeReportSchema = z
  .object({
    cluster_id: clusterIdSchema,
    // ASCII only (RFC 3986): `new URL` also takes IRIs such as `https://Ï`, which viewers' clients may not.
    url: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .regex(/^[!-~]+$/, 'must be a URI: printable ASCII, no spaces'),
    viewers: z.number().int().nonnegative(),
    /** Matches with at least one viewer on the node. */
    matches: z.array(matchIdSchema).max(10_000),
  })
  .strict();
export type NodeReport = z.infer<typeof nodeReportSchema>;

/** Answer of `GET /v1/assign`. */
export interface Assignment {
  node_id: string;
  cluster_id: string;
  url: string;
}

interface NodeEntry extends NodeReport {
  nodeId: string;
  /** Viewers sent here since the last report: counted as load so a burst of assigns spreads out. */
  pending: number;
  expiresAt: number;
}

/** Options of {@link Directory}. */
export interface DirectoryOptions {
  /** A node not heard from for this long is dropped. @default 5000 */
  ttlMs?: number;
  /** Live nodes at most (a bound on memory; reports of further nodes are refused). @default 10000 */
  maxNodes?: number;
  now?: () => number;
}

/** Live subscriber nodes and the matches each serves. */
export class Directory {
  readonly #nodes = new Map<string, NodeEntry>();
  readonly #ttlMs: number;
  readonly #maxNodes: number;
  readonly #now: () => number;

  constructor(options: DirectoryOptions = {}) {
    this.#ttlMs = options.ttlMs ?? 5_000;
    this.#maxNodes = options.maxNodes ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** Records a node's heartbeat; false if the directory is full and the node is new. */
  report(nodeId: string, report: NodeReport): boolean {
    this.#expire();
    if (!this.#nodes.has(nodeId) && this.#nodes.size >= this.#maxNodes) return false;
    this.#nodes.set(nodeId, { ...report, nodeId, pending: 0, expiresAt: this.#now() + this.#ttlMs });
    return true;
  }

  /** Forgets a node (it deregistered on a graceful stop). */
  remove(nodeId: string): boolean {
    return this.#nodes.delete(nodeId);
  }

  /**
   * The least-loaded live node (reported viewers plus viewers assigned since), ties broken at random so equal
   * nodes share a burst. Nodes in `exclude` (e.g. the one a viewer just lost) are skipped while others exist.
   */
  assign(exclude: ReadonlySet<string> = new Set()): Assignment {
    this.#expire();
    let best: NodeEntry[] = [];
    let bestLoad = Number.POSITIVE_INFINITY;
    for (const node of this.#nodes.values()) {
      if (exclude.has(node.nodeId)) continue;
      const load = node.viewers + node.pending;
      if (load < bestLoad) {
        best = [node];
        bestLoad = load;
      } else if (load === bestLoad) best.push(node);
    }
    const chosen = best[Math.floor(Math.random() * best.length)];
    if (chosen === undefined) throw new NoNodeAvailableError();
    chosen.pending++;
    return { node_id: chosen.nodeId, cluster_id: chosen.cluster_id, url: chosen.url };
  }

  /** Map match id → clusters with viewers of it, for routing a whole batch with one pass over the nodes. */
  routes(): Map<string, Set<string>> {
    this.#expire();
    const routes = new Map<string, Set<string>>();
    for (const node of this.#nodes.values()) {
      for (const matchId of node.matches) {
        let clusters = routes.get(matchId);
        if (clusters === undefined) {
          clusters = new Set();
          routes.set(matchId, clusters);
        }
        clusters.add(node.cluster_id);
      }
    }
    return routes;
  }

  /** Live nodes, for metrics and debugging. */
  nodes(): (Assignment & { viewers: number; matches: number })[] {
    this.#expire();
    return [...this.#nodes.values()].map((n) => ({
      node_id: n.nodeId,
      cluster_id: n.cluster_id,
      url: n.url,
      viewers: n.viewers + n.pending,
      matches: n.matches.length,
    }));
  }

  #expire(): void {
    const now = this.#now();
    for (const [id, node] of this.#nodes) if (node.expiresAt <= now) this.#nodes.delete(id);
  }
}
