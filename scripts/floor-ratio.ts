/**
 * `bench:fanout`'s comparison with the floor of the same run: per level, how many times the floor's broadcast p99,
 * node CPU and viewers' CPU a client costs. The viewers run on the node's cores, so their receive cost bounds the
 * p99 as much as the node's send cost; the report shows both sides.
 */

/** What one level of a pass measured, as far as the comparison needs it. */
export interface LevelCost {
  viewers: number;
  p99: number;
  /** Node CPU per broadcast, all work included. */
  nodeCpuMsPerBroadcast: number;
  /** CPU of all viewer processes per broadcast. */
  viewersCpuMsPerBroadcast: number;
}

/** One level of a pass against the same level of the floor pass. */
export interface FloorRatio {
  viewers: number;
  p99: number;
  floorP99: number;
  p99Ratio: number;
  nodeCpuMsPerBroadcast: number;
  floorNodeCpuMsPerBroadcast: number;
  cpuRatio: number;
  viewersCpuMsPerBroadcast: number;
  floorViewersCpuMsPerBroadcast: number;
  viewersCpuRatio: number;
}

/**
 * Pairs each level of `results` with the floor's level of the same viewer count (a level the floor did not reach
 * is left out). A floor figure under 1 divides as 1: a millisecond is the resolution of both.
 */
export function compareToFloor(results: readonly LevelCost[], floor: readonly LevelCost[]): FloorRatio[] {
  return results.flatMap((r) => {
    const f = floor.find((x) => x.viewers === r.viewers);
    if (f === undefined) return [];
    return [
      {
        viewers: r.viewers,
        p99: r.p99,
        floorP99: f.p99,
        p99Ratio: r.p99 / Math.max(1, f.p99),
        nodeCpuMsPerBroadcast: r.nodeCpuMsPerBroadcast,
        floorNodeCpuMsPerBroadcast: f.nodeCpuMsPerBroadcast,
        cpuRatio: r.nodeCpuMsPerBroadcast / Math.max(1, f.nodeCpuMsPerBroadcast),
        viewersCpuMsPerBroadcast: r.viewersCpuMsPerBroadcast,
        floorViewersCpuMsPerBroadcast: f.viewersCpuMsPerBroadcast,
        viewersCpuRatio: r.viewersCpuMsPerBroadcast / Math.max(1, f.viewersCpuMsPerBroadcast),
      },
    ];
  });
}
