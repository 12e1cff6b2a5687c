import { describe, expect, it } from 'vitest';
import { HopStats } from '../fanout/index.ts';
import { compareTable, hopsChartSvg, hopTable, markdownTable, splitTable } from './load-hops.ts';

/** A report of `n` samples whose trigger wait is `wait` ms (the hop a Spark trigger change moves). */
function report(label: string | undefined, wait: number) {
  const stats = new HopStats();
  stats.record(
    {
      acceptedAt: 0,
      onKafkaAt: 100,
      trace: {
        emitted_at: 100 + wait,
        aggregated_at: 700 + wait,
        routed_at: 750 + wait,
        sent_at: 780 + wait,
        relayed_at: 790 + wait,
      },
      seenAt: 800 + wait,
    },
    10,
  );
  return {
    label,
    at: '2026-12-07T03:30:00.000Z',
    config: { rate: 2000, viewers: 200, duration_s: 30, matches: 4 },
    latency_ms: { p50: 800 + wait, p99: 800 + wait },
    hops_ms: { ...stats.summary(), untraced: 0 },
  };
}

describe('hop tables', () => {
  it('lists every hop with p50, p99, mean and share, then the end-to-end line', () => {
    const table = hopTable(report('trigger-2s', 1000));
    const lines = table.split('\n');
    expect(lines).toHaveLength(2 + 7 + 1);
    expect(lines[0]).toMatch(/^\| hop +\| p50 ms \| p99 ms \| mean ms \| share of mean \|$/);
    expect(lines.find((l) => l.startsWith('| on Kafka → batch start'))).toMatch(
      /\| 1,000 +\| 1,00\d +\| 1,000 +\| 56 % +\|/,
    );
    expect(lines.at(-1)).toMatch(/^\| end to end +\| 1,800 +\| 1,800 +\| 1,800 +\| 100 % +\|$/);
    // Padded columns: every line as long as the header.
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
  });

  it('says so when a report has no hop figures (reports written before them)', () => {
    expect(hopTable({ latency_ms: { p50: 1, p99: 2 } })).toMatch(/no hop figures/);
  });

  it('splits median and tail samples into hops that add up to their latency', () => {
    const table = splitTable(report(undefined, 1000));
    expect(table.split('\n')[2]).toMatch(
      /^\| all +\| 10 +\| 1,800 +\| 100 +\| 1,000 +\| 600 +\| 50 +\| 30 +\| 10 +\| 10 +\|$/,
    );
  });

  it('compares runs hop by hop, named by label, and draws one bar per run and split', () => {
    const runs = [report('trigger-2s', 1000), report('trigger-500ms', 250)];
    const table = compareTable(runs);
    expect(table.split('\n')[0]).toMatch(/\| trigger-2s +\| trigger-500ms +\|$/);
    expect(table).toMatch(/\| on Kafka → batch start +\| 1,000 \/ 1,00\d +\| 250 \/ 250 +\|/);
    const svg = hopsChartSvg(runs);
    expect(svg).toContain('trigger-500ms: p40–p60');
    expect(svg.match(/text-anchor="end">trigger-2s: /g)).toHaveLength(3);
  });

  it('pads Markdown tables to the widest cell', () => {
    expect(markdownTable(['a', 'bb'], [['ccc', 'd']])).toBe('| a   | bb |\n| --- | -- |\n| ccc | d  |');
  });
});
