/**
 * The feed's viewers per match: the nodes' own `fanout_match_viewers` (real prom-client text, as the nodes write
 * it) summed over nodes, the most watched named and the rest, including each node's own overflow, as `(other)`.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMatchViewersGauge, OTHER_MATCHES } from '../fanout/subscriber-node/match-viewers.ts';
import { createDashboardFeed, MAX_MATCHES_CHARTED } from './dashboard-feed.ts';

function nodeMetrics(counts: [string, number][], cap?: number): Registry {
  const registry = new Registry();
  createMatchViewersGauge(registry, () => counts, cap);
  return registry;
}

describe('dashboard feed: viewers per match', () => {
  it('sums each match over the nodes and bounds the matches charted', async () => {
    const many = Array.from({ length: 30 }, (_, i) => [`busy-${i}`, 1] as [string, number]);
    const nodes: Record<string, Registry> = {
      'http://a': nodeMetrics([
        ['final', 3],
        ['semi', 1],
      ]),
      // This node names 20 matches itself and sums its other 11 as (other).
      'http://b': nodeMetrics([['final', 2], ...many], 20),
      'http://c': new Registry(), // a node without the gauge (an older one): counts nothing
    };
    const feed = createDashboardFeed({
      targets: Object.keys(nodes).map((url, i) => ({ name: `node-${i}`, url, role: 'subscriber-node' })),
      scrapeMs: 60_000,
      historyPoints: 10,
      fetchText: (url) => (nodes[url.replace(/\/metrics$/, '')] as Registry).metrics(),
    });
    const point = await feed.scrape();
    const named = Object.entries(point.viewersByMatch).filter(([id]) => id !== OTHER_MATCHES);
    expect(named).toHaveLength(MAX_MATCHES_CHARTED);
    expect(point.viewersByMatch.final).toBe(5);
    // Every viewer is in the chart once: 3 + 1 + 2 + 30.
    expect(Object.values(point.viewersByMatch).reduce((x, y) => x + y, 0)).toBe(36);
    expect(point.viewersByMatch[OTHER_MATCHES]).toBe(36 - named.reduce((x, [, n]) => x + n, 0));
  });
});
