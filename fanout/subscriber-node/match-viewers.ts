/**
 * Viewers per match on one subscriber node, as a Prometheus gauge that cannot grow without bound: the labels are
 * computed at each scrape from the node's rooms, so only a match with at least one viewer carries a label (a match
 * whose last viewer left is gone at the next scrape), and at most {@link MAX_MATCH_VIEWER_LABELS} matches are named
 * — the ones with the most viewers — the rest summed under {@link OTHER_MATCHES}. A flood of match ids therefore
 * adds at most one series to `/metrics`.
 */
import { Gauge, type Registry } from 'prom-client';

/** Most matches named in `fanout_match_viewers` per node; the others are summed under {@link OTHER_MATCHES}. */
export const MAX_MATCH_VIEWER_LABELS = 50;

/**
 * The `match_id` of the matches beyond the cap. Parentheses are outside the id grammar (`common/ids.ts`), so no
 * real match can be confused with it.
 */
export const OTHER_MATCHES = '(other)';

/**
 * The series of the gauge: the `cap` matches with the most viewers (ties by id, so a scrape is deterministic),
 * then one {@link OTHER_MATCHES} entry summing the rest if there is a rest. Matches with no viewer are left out.
 */
export function matchViewerSeries(
  counts: Iterable<readonly [string, number]>,
  cap = MAX_MATCH_VIEWER_LABELS,
): [string, number][] {
  const watched = [...counts].filter(([, n]) => n > 0);
  watched.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const named = watched.slice(0, cap).map(([id, n]) => [id, n] as [string, number]);
  const rest = watched.slice(cap).reduce((sum, [, n]) => sum + n, 0);
  if (rest > 0) named.push([OTHER_MATCHES, rest]);
  return named;
}

/**
 * Registers `fanout_match_viewers{match_id}` on `registry`; `counts` is read at every scrape and must return the
 * node's matches with their current viewer counts (bounded by the node's own match limit).
 */
export function createMatchViewersGauge(
  registry: Registry,
  counts: () => Iterable<readonly [string, number]>,
  cap = MAX_MATCH_VIEWER_LABELS,
): Gauge<'match_id'> {
  return new Gauge({
    name: 'fanout_match_viewers',
    help: `Viewers per match on this subscriber node: only matches with viewers, the ${cap} with the most named, the rest summed as match_id="${OTHER_MATCHES}".`,
    labelNames: ['match_id'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [matchId, n] of matchViewerSeries(counts(), cap)) this.set({ match_id: matchId }, n);
    },
  });
}
