/**
 * CPU time and memory of a process or a process group, read from Linux's /proc, for benchmarks that report cores
 * used (the capacity model divides throughput by them) and resident memory. CPU is `user + system` of every live
 * thread; children that already exited count once their parent has waited for them (`cutime`/`cstime`).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's times: USER_HZ, 100 on every Linux architecture Node.js runs on. */
const TICKS_PER_SECOND = 100;

/**
 * Parses one /proc/<pid>/stat line: the parent, the process group and CPU seconds (own threads plus waited-for
 * children). Fields after the name, 0-based: 0 state, 1 ppid, 2 pgrp, 11 utime, 12 stime, 13 cutime, 14 cstime.
 */
export function parseStat(text: string): { ppid: number; pgrp: number; cpuSeconds: number } {
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(f[i] ?? 0), 0);
  return { ppid: Number(f[1]), pgrp: Number(f[2]), cpuSeconds: ticks / TICKS_PER_SECOND };
}

/** CPU seconds used so far by `pid` (all its threads), or undefined when it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).cpuSeconds;
  } catch {
    return undefined; // gone, or not Linux
  }
}

/** A live member of a process group. */
export interface GroupMember {
  pid: number;
  /** The executable's name (`/proc/<pid>/comm`, e.g. `java`, `python`). */
  comm: string;
  cpuSeconds: number;
}

/** Every live process, from /proc. */
function liveProcesses(): (GroupMember & { ppid: number; pgrp: number })[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    if (!/^\d+$/.test(name)) return [];
    let text: string;
    try {
      text = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      return [];
    }
    const comm = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
    return [{ pid: Number(name), comm, ...parseStat(text) }];
  });
}

const member = ({ pid, comm, cpuSeconds }: GroupMember): GroupMember => ({ pid, comm, cpuSeconds });

/** The live members of process group `pgid` (a launcher and the JVM it started), from /proc. */
export function processGroupMembers(pgid: number): GroupMember[] {
  return liveProcesses()
    .filter((p) => p.pgrp === pgid)
    .map(member);
}

/**
 * The live members of process group `pgid` and every descendant of theirs, in whatever group: what a service runs
 * in all, e.g. the Spark launcher and the spark-submit it starts in a group of its own.
 */
export function processTreeMembers(pgid: number): GroupMember[] {
  const all = liveProcesses();
  const inTree = new Set(all.filter((p) => p.pgrp === pgid).map((p) => p.pid));
  // Parents come before children only by chance in /proc's order: repeat until nothing is added.
  for (let added = true; added; ) {
    added = false;
    for (const p of all) {
      if (!inTree.has(p.pid) && inTree.has(p.ppid)) {
        inTree.add(p.pid);
        added = true;
      }
    }
  }
  return all.filter((p) => inTree.has(p.pid)).map(member);
}

/** CPU seconds used so far by the live members of process group `pgid` (a launcher and the JVM it started). */
export function processGroupCpuSeconds(pgid: number): number {
  return processGroupMembers(pgid).reduce((n, m) => n + m.cpuSeconds, 0);
}

/** Bytes per page of /proc/<pid>/statm: 4 KiB on the x86-64 and arm64 Linux kernels this runs on. */
const PAGE_BYTES = 4096;

/** Resident memory of `pid` in bytes (`/proc/<pid>/statm`'s resident pages), or 0 when it is gone. */
export function processRssBytes(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1] ?? 0) * PAGE_BYTES;
  } catch {
    return 0;
  }
}

/** Resident memory of every live member of process group `pgid`, summed (shared pages count per process). */
export function processGroupRssBytes(pgid: number): number {
  return processGroupMembers(pgid).reduce((n, m) => n + processRssBytes(m.pid), 0);
}

/**
 * A meter of cores used between `start()` and `stop()`: CPU seconds consumed over wall seconds elapsed
 * (1.0 = one core busy the whole time).
 */
export function coresMeter(read: () => number | undefined): { stop(): number } {
  const cpu0 = read() ?? 0;
  const t0 = performance.now();
  return {
    stop() {
      const wall = (performance.now() - t0) / 1000;
      const cpu = (read() ?? cpu0) - cpu0;
      return wall > 0 ? cpu / wall : 0;
    },
  };
}
