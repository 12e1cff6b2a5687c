import { describe, expect, it } from 'vitest';
import { checkColumns, diffRows, formatDiff, isEmptyDiff, type Row } from './job-test.ts';

const row = (match: string, start: string, emoji: string, count: number, swarm: number): Row => ({
  match_id: match,
  window_start: start,
  emoji,
  count,
  swarm,
});

describe('diffRows', () => {
  const expected = [
    row('m1', 't0', '🔥', 3785, 3),
    row('m1', 't2', '🔥', 1, 1),
    row('m2', 't0', '👏', 1000, 1),
  ];

  it('accepts the same rows in any order', () => {
    expect(isEmptyDiff(diffRows(expected, [...expected].reverse()))).toBe(true);
  });

  it('reports changed, missing and unexpected rows, and prints them', () => {
    const actual = [
      row('m1', 't0', '🔥', 3784, 3),
      row('m2', 't0', '👏', 1000, 1),
      row('m3', 't0', '🔥', 1, 1),
    ];
    const d = diffRows(expected, actual);
    expect(d.changed).toEqual([{ expected: expected[0], actual: actual[0] }]);
    expect(d.missing).toEqual([expected[1]]);
    expect(d.unexpected).toEqual([actual[2]]);
    const text = formatDiff(d);
    expect(text).toContain('- {"match_id":"m1","window_start":"t0","emoji":"🔥","count":3785,"swarm":3}');
    expect(text).toContain('+ {"match_id":"m1","window_start":"t0","emoji":"🔥","count":3784,"swarm":3}');
    expect(text).toContain('(expected, missing)');
    expect(text).toContain('(unexpected)');
  });

  it('counts duplicated rows', () => {
    const d = diffRows([expected[1] as Row], [expected[1] as Row, expected[1] as Row]);
    expect(d.unexpected).toHaveLength(1);
  });
});

describe('checkColumns', () => {
  const schema = JSON.stringify({
    type: 'record',
    name: 'T',
    fields: [
      { name: 'match_id', type: 'string' },
      { name: 'window_start', type: { type: 'long', logicalType: 'timestamp-millis' } },
      { name: 'count', type: 'long' },
    ],
  });

  it('accepts the columns to_avro can write to the sink fields', () => {
    expect(
      checkColumns(
        [
          { name: 'match_id', type: 'string' },
          { name: 'window_start', type: 'timestamp' },
          { name: 'count', type: 'bigint' },
        ],
        schema,
        't.avsc',
      ),
    ).toEqual([]);
  });

  it('names a missing field, a column of the wrong type and a column the sink would drop', () => {
    expect(
      checkColumns(
        [
          { name: 'match_id', type: 'string' },
          { name: 'count', type: 'string' },
          { name: 'extra', type: 'int' },
        ],
        schema,
        't.avsc',
      ),
    ).toEqual([
      'column window_start of t.avsc is missing from the query',
      'column count is string; t.avsc declares long',
      'column extra is not a field of t.avsc',
    ]);
  });
});
