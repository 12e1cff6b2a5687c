/**
 * The operator dashboard: polls the web server's scrape history (`/api/dashboard?since=`, see
 * web/dashboard-feed.ts) and draws it with uPlot. Every value comes from the services' own metrics and the
 * Spark run directories; a missing value is a gap, a service that does not answer is listed as down with the
 * reason, and if the web server itself is unreachable the page says so and keeps polling.
 */
import 'uplot/dist/uPlot.min.css';
import './dashboard.css';
import uPlot from 'uplot';
import type { DashboardPoint } from '../dashboard-feed.ts';

/** Points kept in the page (10 min at the default 2 s scrape). */
const MAX_POINTS = 300;

type Series = Record<string, number | null>;

interface ChartSpec {
  id: string;
  title: string;
  unit: string;
  values: (p: DashboardPoint) => Series;
}

const round = (n: number | null | undefined) =>
  n === null || n === undefined ? null : Math.round(n * 10) / 10;

const CHARTS: ChartSpec[] = [
  {
    id: 'reactions',
    title: 'Reactions/s: accepted and rejected by reason (ingest)',
    unit: '/s',
    values: (p) => ({
      accepted: round(p.acceptedPerSec),
      ...Object.fromEntries(Object.entries(p.rejectedPerSec).map(([k, v]) => [`rejected: ${k}`, round(v)])),
    }),
  },
  {
    id: 'batch-duration',
    title: 'Spark batch duration',
    unit: 'ms',
    values: (p) => Object.fromEntries(Object.entries(p.jobs).map(([job, j]) => [job, j.batchMs])),
  },
  {
    id: 'input-rows',
    title: 'Spark input rows/s',
    unit: '/s',
    values: (p) =>
      Object.fromEntries(Object.entries(p.jobs).map(([job, j]) => [job, round(j.inputRowsPerSec)])),
  },
  {
    id: 'offsets-behind',
    title: 'Spark offsets behind the latest',
    unit: '',
    values: (p) => Object.fromEntries(Object.entries(p.jobs).map(([job, j]) => [job, j.offsetsBehind])),
  },
  {
    id: 'deliveries',
    title: 'Swarm deliveries/s (subscriber nodes → match rooms)',
    unit: '/s',
    values: (p) => ({ deliveries: round(p.deliveriesPerSec) }),
  },
  {
    id: 'viewers',
    title: 'Viewers per subscriber node',
    unit: '',
    values: (p) => ({ ...p.viewersByNode }),
  },
  {
    id: 'match-viewers',
    title: 'Viewers per match (the 10 most watched, summed over subscriber nodes; the rest as “(other)”)',
    unit: '',
    values: (p) => ({ ...p.viewersByMatch }),
  },
  {
    id: 'rooms',
    title: 'Match rooms with viewers per subscriber node',
    unit: '',
    values: (p) => ({ ...p.roomsByNode }),
  },
  {
    id: 'latency',
    title: 'Latency p50/p99: job → routed (main publisher), publisher → viewers (nodes)',
    unit: 'ms',
    values: (p) => ({
      'routed p50': p.routeLatencyMs.p50,
      'routed p99': p.routeLatencyMs.p99,
      'relayed p50': p.relayLatencyMs.p50,
      'relayed p99': p.relayLatencyMs.p99,
    }),
  },
];

const COLOURS = ['#ffb02e', '#6bd68a', '#5ab0ff', '#ff6b6b', '#c58bff', '#3fd0c9', '#f78fb3', '#cfd86b'];

interface Chart {
  spec: ChartSpec;
  figure: HTMLElement;
  body: HTMLElement;
  plot?: uPlot;
  names: string[];
}

const $ = (id: string) => document.getElementById(id) as HTMLElement;
const feedStatus = $('feed-status');
const points: DashboardPoint[] = [];
const charts: Chart[] = CHARTS.map((spec) => {
  const figure = document.createElement('figure');
  figure.id = `chart-${spec.id}`;
  const caption = document.createElement('figcaption');
  caption.textContent = spec.title;
  const body = document.createElement('div');
  body.className = 'empty';
  body.textContent = 'No data yet.';
  figure.append(caption, body);
  $('charts').append(figure);
  return { spec, figure, body, names: [] };
});

function width(el: HTMLElement): number {
  return Math.max(260, el.clientWidth - 8);
}

function draw(chart: Chart): void {
  const rows = points.map((p) => chart.spec.values(p));
  // At most 16 series; the ones of the latest scrape first, so a match watched now is never the one left out.
  const latest = Object.keys(rows.at(-1) ?? {});
  const names = [...new Set([...latest, ...rows.flatMap((r) => Object.keys(r))])].slice(0, 16).sort();
  const data: uPlot.AlignedData = [
    points.map((p) => p.t / 1000),
    ...names.map((n) => rows.map((r) => r[n] ?? null)),
  ];
  const withValues = names.filter((_, i) => (data[i + 1] as (number | null)[]).some((v) => v !== null));
  chart.figure.dataset.series = String(withValues.length);
  chart.figure.dataset.latest = JSON.stringify(rows.at(-1) ?? {});
  if (withValues.length === 0) {
    chart.plot?.destroy();
    chart.plot = undefined;
    chart.names = [];
    chart.body.className = 'empty';
    chart.body.textContent = 'No data yet.';
    return;
  }
  if (chart.plot === undefined || names.join('\n') !== chart.names.join('\n')) {
    chart.plot?.destroy();
    chart.body.className = '';
    chart.body.textContent = '';
    chart.names = names;
    chart.plot = new uPlot(
      {
        width: width(chart.figure),
        height: 200,
        series: [
          {},
          ...names.map((n, i) => ({
            label: n,
            stroke: COLOURS[i % COLOURS.length],
            width: 2,
            spanGaps: false,
            value: (_: uPlot, v: number | null) => (v === null ? '–' : `${v}${chart.spec.unit}`),
          })),
        ],
        axes: [
          { stroke: '#9aa4b5', grid: { stroke: '#263044' } },
          { stroke: '#9aa4b5', grid: { stroke: '#263044' }, size: 60 },
        ],
        scales: { x: { time: true } },
      },
      data,
      chart.body,
    );
  } else {
    chart.plot.setData(data);
  }
}

function renderServices(p: DashboardPoint): void {
  const items = Object.entries(p.services).map(([name, s]) => {
    const li = document.createElement('li');
    li.dataset.service = name;
    li.dataset.up = String(s.up);
    li.textContent = s.up ? `${name} up` : `${name} DOWN (${s.error ?? 'no answer'})`;
    return li;
  });
  $('services').replaceChildren(...items);
  const rows = Object.entries(p.jobs).map(([job, j]) => {
    const tr = document.createElement('tr');
    tr.dataset.job = job;
    for (const v of [
      job,
      j.state,
      j.batchId,
      j.batchMs,
      round(j.inputRowsPerSec),
      round(j.processedRowsPerSec),
      j.offsetsBehind,
    ]) {
      const td = document.createElement('td');
      td.textContent = v === null ? '–' : String(v);
      tr.append(td);
    }
    return tr;
  });
  $('jobs')
    .querySelector('tbody')
    ?.replaceChildren(...rows);
}

let since = 0;
let delayMs = 2_000;

async function poll(): Promise<void> {
  try {
    const res = await fetch(`/api/dashboard?since=${since}`, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const body = (await res.json()) as { scrape_ms: number; points: DashboardPoint[] };
    delayMs = body.scrape_ms;
    if (body.points.length > 0) {
      points.push(...body.points);
      if (points.length > MAX_POINTS) points.splice(0, points.length - MAX_POINTS);
      since = points.at(-1)?.t ?? since;
      for (const chart of charts) draw(chart);
      const last = points.at(-1);
      if (last !== undefined) renderServices(last);
    }
    const down = Object.values(points.at(-1)?.services ?? {}).filter((s) => !s.up).length;
    feedStatus.dataset.state = 'up';
    feedStatus.textContent = `Last scrape ${new Date(since).toLocaleTimeString()}; ${down === 0 ? 'every service answered' : `${down} service${down === 1 ? '' : 's'} down`}.`;
  } catch (err) {
    feedStatus.dataset.state = 'down';
    feedStatus.textContent = `The dashboard server does not answer (${(err as Error).message}); retrying.`;
  } finally {
    setTimeout(() => void poll(), delayMs);
  }
}

window.addEventListener('resize', () => {
  for (const chart of charts) chart.plot?.setSize({ width: width(chart.figure), height: 200 });
});
void poll();
