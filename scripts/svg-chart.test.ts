import { describe, expect, it } from 'vitest';
import { lineChartSvg, ticks } from './svg-chart.ts';

describe('lineChartSvg', () => {
  it('draws every series and reference line, with its text escaped', () => {
    const svg = lineChartSvg({
      title: 'p99 <ms> & "viewers"',
      xLabel: 'viewers',
      yLabel: 'ms',
      series: [
        {
          name: 'p50',
          points: [
            [1000, 3],
            [5000, 8],
            [10000, Number.NaN],
          ],
        },
        {
          name: 'floor',
          points: [
            [1000, 1],
            [5000, 2],
          ],
          dashed: true,
        },
      ],
      hLines: [{ y: 250, label: 'target 250 ms' }],
    });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('<title>p99 &lt;ms&gt; &amp; &quot;viewers&quot;</title>');
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toContain('target 250 ms');
    expect(svg).not.toContain('NaN');
    // Well-formed XML.
    expect(svg.match(/<text/g)?.length).toBe(svg.match(/<\/text>/g)?.length);
  });

  it('picks round ticks', () => {
    expect(ticks(0, 260)).toEqual([0, 100, 200]);
    expect(ticks(0, 1000, 10)).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    expect(ticks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  });
});
