import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_ASSUMPTIONS, type Measured, plan } from './model.ts';
import { nodeCpuFit, ReportError, readMeasured } from './reports.ts';

const src = { report: 'x.json', at: '2026-12-02', detail: 'test' };
const measured: Measured = {
  ingestReactionsPerReplica: { value: 5000, source: src },
  ingestCoresPerReplica: { value: 1.5, source: src },
  sparkRowsPerCore: { value: 50_000, source: src },
  nodeCpuMsPerViewerBroadcast: { value: 0.02, source: src },
  nodeCpuMsPerBroadcast: { value: 0, source: src },
  nodeBytesPerViewer: { value: 40_000, source: src },
  nodeViewersWithinLatency: { value: Number.POSITIVE_INFINITY, source: src },
  reactionRecordBytes: { value: 100, source: src },
};
const need = (needs: ReturnType<typeof plan>, tier: string) => needs.find((n) => n.tier === tier)?.count;

describe('capacity model', () => {
  it('sizes each tier from the per-unit figures at the headroom', () => {
    const needs = plan({ viewers: 1_000_000, reactionsPerSecond: 300_000, matches: 10 }, measured);
    // 300k / (5k × 0.6) = 100 replicas of 1.5 cores
    expect(need(needs, 'ingest replicas')).toBe(100);
    expect(need(needs, 'ingest cores')).toBe(150);
    // 300k / (50k × 0.6) = 10 cores
    expect(need(needs, 'Spark executor cores')).toBe(10);
    // CPU: 600 ms/s ÷ (0.02 ms × 0.5/s) = 60,000 viewers; memory: 3 GiB × 0.6 / 40 kB = 48,318 → memory-bound
    expect(needs.find((n) => n.tier === 'subscriber nodes')?.unit).toContain('memory-bound');
    expect(need(needs, 'subscriber nodes')).toBe(
      Math.ceil(1_000_000 / Math.floor((3 * 2 ** 30 * 0.6) / 40_000)),
    );
    // 30 MB/s in: partitions max(6 by bytes, 10 Spark cores, 3 brokers) → 12 (a multiple of 3 brokers)
    expect(need(needs, 'Kafka brokers')).toBe(3);
    expect(need(needs, 'reactions partitions')).toBe(12);
  });

  it('sizes CPU-bound subscriber nodes by how often each viewer gets a swarm (the trigger)', () => {
    const cpuBound = { ...measured, nodeBytesPerViewer: { value: 1, source: src } };
    const load = { viewers: 1_200_000, reactionsPerSecond: 1, matches: 1 };
    // 600 ms/s ÷ (0.02 ms × 0.5/s) = 60,000 viewers a node → 20; one swarm a second halves that → 40
    const every2s = plan(load, cpuBound);
    const every1s = plan(load, cpuBound, { ...DEFAULT_ASSUMPTIONS, broadcastsPerViewerPerSecond: 1 });
    expect(need(every2s, 'subscriber nodes')).toBe(20);
    expect(need(every1s, 'subscriber nodes')).toBe(40);
    const sources = every1s.find((n) => n.tier === 'subscriber nodes')?.sources ?? [];
    expect(sources.map((x) => ('assumption' in x ? x.assumption : ''))).toEqual(
      expect.arrayContaining([expect.stringMatching(/^broadcastsPerViewerPerSecond 1:/)]),
    );
  });

  it('adds brokers when replicated writes or retained bytes exceed a broker', () => {
    const needs = plan({ viewers: 1, reactionsPerSecond: 2_000_000, matches: 1 }, measured);
    // 200 MB/s in × RF 3 = 572 MiB/s ÷ 100 MiB/s → 6; retained 200 MB/s × 3 × 6 h = 11.8 TiB ÷ 1.4 TiB → 9
    expect(need(needs, 'Kafka brokers')).toBe(9);
  });

  it('is latency-bound when the benchmark saw p99 over target below the CPU and memory bounds', () => {
    const needs = plan(
      { viewers: 100_000, reactionsPerSecond: 1, matches: 1 },
      {
        ...measured,
        nodeViewersWithinLatency: { value: 10_000, source: src },
      },
    );
    expect(need(needs, 'subscriber nodes')).toBe(10);
    expect(needs.find((n) => n.tier === 'subscriber nodes')?.unit).toContain('latency-bound');
  });

  it('scales linearly with the load and with the headroom', () => {
    const base = plan({ viewers: 1e6, reactionsPerSecond: 1.2e5, matches: 1 }, measured);
    const double = plan({ viewers: 2e6, reactionsPerSecond: 2.4e5, matches: 1 }, measured);
    expect(need(double, 'ingest replicas')).toBe(2 * (need(base, 'ingest replicas') as number));
    const loose = plan({ viewers: 1e6, reactionsPerSecond: 1e5, matches: 1 }, measured, {
      ...DEFAULT_ASSUMPTIONS,
      headroom: 1,
    });
    expect(need(loose, 'ingest replicas')).toBeLessThan(need(base, 'ingest replicas') as number);
  });
});

describe('benchmark reports', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, body: unknown) => writeFileSync(path.join(dir, name), JSON.stringify(body));
  const ingest = (serverCores?: number) => ({
    at: '2026-12-01T10:00:00.000Z',
    rows: [
      {
        phase: 'single',
        target: 'ingest POST /v1/reactions',
        reactionsPerSec: 4000,
        non2xx: 0,
        errors: 0,
        serverCores,
      },
    ],
    inKafka: 10,
    acceptedTotal: 10,
  });

  it('reads each figure with its report and date, and the best sustained Spark rate', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'capacity-'));
    write('bench-ingest.json', ingest(1.25));
    write('bench-spark-preload.json', {
      at: '2026-12-01T11:00:00.000Z',
      trigger: 2000,
      table: [
        { 'target/s': 50_000, sustained: true, 'rows/s/core': 30_000, 'spark cores': 1.7 },
        { 'target/s': 75_000, sustained: true, 'rows/s/core': 40_000, 'spark cores': 1.9 },
        { 'target/s': 100_000, sustained: false, 'rows/s/core': 45_000, 'spark cores': 2 },
      ],
    });
    write('bench-fanout-socket.io.json', {
      results: [
        { joined: 1000, p99: 40, nodeCpuMsPerBroadcast: 30, bytesPerViewer: 30_000 },
        { joined: 5000, p99: 200, nodeCpuMsPerBroadcast: 150, bytesPerViewer: 32_000 },
        { joined: 10_000, p99: 400, nodeCpuMsPerBroadcast: 330, bytesPerViewer: 33_000 },
      ],
    });
    const m = readMeasured(dir);
    expect(m.ingestReactionsPerReplica.value).toBe(4000);
    expect(m.ingestCoresPerReplica.value).toBe(1.25);
    expect(m.sparkRowsPerCore.value).toBe(40_000);
    expect(m.sparkRowsPerCore.source).toMatchObject({ report: 'bench-spark-preload.json', at: '2026-12-01' });
    // (1000, 30), (5000, 150), (10000, 330) lie on no line with a fixed part ≥ 0: the line through the origin.
    expect(m.nodeCpuMsPerViewerBroadcast.value).toBeCloseTo(4_080_000 / 126_000_000, 6);
    expect(m.nodeCpuMsPerBroadcast.value).toBe(0);
    expect(m.nodeViewersWithinLatency.value).toBe(5000);
    expect(m.reactionRecordBytes.value).toBeGreaterThan(60);
    expect(m.reactionRecordBytes.value).toBeLessThan(140);
  });

  it('splits node CPU per broadcast into a fixed part and a part per viewer', () => {
    // bench:fanout of 7 December 2026: 30, 99, 181 ms per broadcast at 1k, 5k, 10k viewers.
    const fit = nodeCpuFit([
      { viewers: 1000, ms: 30 },
      { viewers: 5000, ms: 99 },
      { viewers: 10_000, ms: 181 },
    ]);
    expect(fit.perViewer).toBeCloseTo(0.01676, 5);
    expect(fit.perBroadcast).toBeCloseTo(13.93, 2);
    // On an exact line both parts come back.
    expect(
      nodeCpuFit([
        { viewers: 100, ms: 12 },
        { viewers: 300, ms: 16 },
      ]),
    ).toEqual({ perViewer: 0.02, perBroadcast: 10 });
    expect(nodeCpuFit([{ viewers: 1000, ms: 20 }])).toEqual({ perViewer: 0.02, perBroadcast: 0 });
    // The model sizes a node by both: 600 ms/s ÷ 1 broadcast/s, less 100 ms fixed, at 0.01 ms per viewer → 50,000.
    const needs = plan(
      { viewers: 1_000_000, reactionsPerSecond: 1, matches: 1 },
      {
        ...measured,
        nodeCpuMsPerViewerBroadcast: { value: 0.01, source: src },
        nodeCpuMsPerBroadcast: { value: 100, source: src },
        nodeBytesPerViewer: { value: 1, source: src },
      },
      { ...DEFAULT_ASSUMPTIONS, broadcastsPerViewerPerSecond: 1 },
    );
    expect(need(needs, 'subscriber nodes')).toBe(20);
  });

  it('names the command to run when a report is missing or predates CPU metering', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'capacity-'));
    expect(() => readMeasured(dir)).toThrow(/npm run bench:ingest/);
    write('bench-ingest.json', ingest(undefined));
    expect(() => readMeasured(dir)).toThrow(ReportError);
    expect(() => readMeasured(dir)).toThrow(/predates CPU metering/);
    write('bench-ingest.json', { ...ingest(1), inKafka: 9 });
    expect(() => readMeasured(dir)).toThrow(/lost reactions/);
    write('bench-ingest.json', ingest(1));
    expect(() => readMeasured(dir)).toThrow(/bench:spark -- --mode preload/);
  });
});
