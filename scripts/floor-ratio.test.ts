import { describe, expect, it } from 'vitest';
import { compareToFloor } from './floor-ratio.ts';

const level = (viewers: number, p99: number, nodeCpu: number, viewersCpu: number) => ({
  viewers,
  p99,
  nodeCpuMsPerBroadcast: nodeCpu,
  viewersCpuMsPerBroadcast: viewersCpu,
});

describe('compareToFloor', () => {
  it("gives p99, node CPU and viewers' CPU per level as a ratio to the floor's level of the same size", () => {
    const socketIo = [level(5_000, 120, 100, 140), level(10_000, 210, 216, 276)];
    const floor = [level(10_000, 105, 72, 92), level(5_000, 100, 50, 70)];
    expect(compareToFloor(socketIo, floor)).toEqual([
      {
        viewers: 5_000,
        p99: 120,
        floorP99: 100,
        p99Ratio: 1.2,
        nodeCpuMsPerBroadcast: 100,
        floorNodeCpuMsPerBroadcast: 50,
        cpuRatio: 2,
        viewersCpuMsPerBroadcast: 140,
        floorViewersCpuMsPerBroadcast: 70,
        viewersCpuRatio: 2,
      },
      {
        viewers: 10_000,
        p99: 210,
        floorP99: 105,
        p99Ratio: 2,
        nodeCpuMsPerBroadcast: 216,
        floorNodeCpuMsPerBroadcast: 72,
        cpuRatio: 3,
        viewersCpuMsPerBroadcast: 276,
        floorViewersCpuMsPerBroadcast: 92,
        viewersCpuRatio: 3,
      },
    ]);
  });

  it('leaves out a level the floor did not reach, and divides by at least 1 ms', () => {
    const rows = compareToFloor(
      [level(5_000, 30, 20, 10), level(10_000, 200, 200, 200)],
      [level(5_000, 0, 0.4, 0)],
    );
    expect(rows.map((r) => r.viewers)).toEqual([5_000]);
    expect([rows[0]?.p99Ratio, rows[0]?.cpuRatio, rows[0]?.viewersCpuRatio]).toEqual([30, 20, 10]);
  });
});
