import { describe, expect, it } from 'vitest';
import { NoNodeAvailableError } from '../errors.ts';
import { Directory, type NodeReport } from './directory.ts';

function report(partial: Partial<NodeReport> = {}): NodeReport {
  return { cluster_id: 'c1', url: 'http://127.0.0.1:1', viewers: 0, matches: [], ...partial };
}

describe('Directory', () => {
  it('assigns the least-loaded node and counts assignments until the next report', () => {
    const directory = new Directory();
    directory.report('n1', report({ viewers: 10, url: 'http://127.0.0.1:1' }));
    directory.report('n2', report({ viewers: 12, url: 'http://127.0.0.1:2' }));
    const picks = Array.from({ length: 6 }, () => directory.assign().node_id);
    // n1 takes the first two (10, 11), then they alternate at equal load.
    expect(picks.slice(0, 2)).toEqual(['n1', 'n1']);
    expect(picks.filter((p) => p === 'n1')).toHaveLength(4);
    directory.report('n1', report({ viewers: 100 }));
    expect(directory.assign().node_id).toBe('n2');
  });

  it('skips excluded nodes and fails with a retriable error when none is left', () => {
    const directory = new Directory();
    directory.report('n1', report());
    expect(() => directory.assign(new Set(['n1']))).toThrow(NoNodeAvailableError);
    directory.report('n2', report({ viewers: 50 }));
    expect(directory.assign(new Set(['n1'])).node_id).toBe('n2');
  });

  it('forgets nodes whose heartbeat expired, and removed nodes', () => {
    let now = 1000;
    const directory = new Directory({ ttlMs: 500, now: () => now });
    directory.report('n1', report({ matches: ['A'] }));
    directory.report('n2', report({ cluster_id: 'c2', matches: ['A', 'B'] }));
    expect(directory.routes()).toEqual(
      new Map([
        ['A', new Set(['c1', 'c2'])],
        ['B', new Set(['c2'])],
      ]),
    );
    now += 400;
    directory.report('n2', report({ cluster_id: 'c2', matches: ['A', 'B'] }));
    now += 200;
    expect(directory.routes().get('A')).toEqual(new Set(['c2']));
    expect(directory.routes().get('B')).toEqual(new Set(['c2']));
    directory.remove('n2');
    expect(directory.routes()).toEqual(new Map());
    expect(() => directory.assign()).toThrow(NoNodeAvailableError);
  });

  it('bounds the number of nodes', () => {
    const directory = new Directory({ maxNodes: 1 });
    expect(directory.report('n1', report())).toBe(true);
    expect(directory.report('n2', report())).toBe(false);
    expect(directory.report('n1', report({ viewers: 3 }))).toBe(true);
  });
});
