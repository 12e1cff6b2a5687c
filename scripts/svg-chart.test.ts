import { describe, expect, it } from 'vitest';
import { barChartSvg, lineChartSvg, stackedBarChartSvg, ticks } from './svg-chart.ts';

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

describe('barChartSvg', () => {
  it('draws one labelled bar per finite value, panel by panel, with its text escaped', () => {
    const svg = barChartSvg({
      title: 'ingest <vs> stub',
      series: ['stub', 'ingest'],
      panels: [
        {
          title: 'single',
          yLabel: 'reactions/s',
          groups: [{ name: 'POST', values: { stub: 12_000, ingest: 6_500 } }],
          hLines: [{ y: 20_000, label: 'target 20k' }],
        },
        {
          title: 'latency',
          yLabel: 'ms',
          groups: [
            { name: 'p50', values: { stub: 2, ingest: 4 } },
            { name: 'p99', values: { stub: 9, ingest: Number.NaN } },
          ],
        },
      ],
    });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('<title>ingest &lt;vs&gt; stub</title>');
    expect(svg.match(/<rect class="bar"/g)).toHaveLength(5); // 2 + 3 bars (NaN skipped)
    expect(svg).toContain('>12k</text>');
    expect(svg).toContain('>6.5k</text>');
    expect(svg).toContain('target 20k</text>');
    expect(svg).toContain('>20k</text>'); // the scale reaches the target line
    expect(svg).not.toContain('NaN');
    expect(svg.match(/<text/g)?.length).toBe(svg.match(/<\/text>/g)?.length);
  });
});

describe('stackedBarChartSvg', () => {
  it('draws one segment per positive value on a shared scale, with totals and escaped text', () => {
    const svg = stackedBarChartSvg({
      title: 'hops <run a>',
      xLabel: 'ms',
      segments: ['a → b', 'b → c', 'c → d'],
      bars: [
        { name: 'run a', values: [100, 0, 300] },
        { name: 'run "b"', values: [200, Number.NaN, 600] },
      ],
    });
    expect(svg).toContain('<title>hops &lt;run a&gt;</title>');
    // Zero and NaN segments are not drawn: 2 + 2 segment rects, 3 legend squares, 1 background.
    expect(svg.match(/<rect /g)).toHaveLength(1 + 3 + 4);
    expect(svg).toContain('run &quot;b&quot;');
    expect(svg).not.toContain('NaN');
    // Totals at each bar's end; the longer bar ends further right on the shared scale.
    const ends = [...svg.matchAll(/<text x="([\d.]+)" y="[\d.]+">(400|800)<\/text>/g)].map((m) =>
      Number(m[1]),
    );
    expect(ends).toHaveLength(2);
    expect(ends[1]).toBeGreaterThan(ends[0] ?? 0);
    expect(svg.match(/<text/g)?.length).toBe(svg.match(/<\/text>/g)?.length);
  });
});
