import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  coresMeter,
  parseStat,
  processCpuSeconds,
  processGroupCpuSeconds,
  processGroupMembers,
  processGroupRssBytes,
  processRssBytes,
  processTreeMembers,
} from './process-cpu.ts';

describe('process CPU from /proc', () => {
  it('parses a stat line whose command name holds spaces and parentheses', () => {
    const line = '4242 (node (worker) x) S 1 4200 4200 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 12 0 1 1 1';
    expect(parseStat(line)).toEqual({ ppid: 1, pgrp: 4200, cpuSeconds: 3.1 });
  });

  it('measures a busy child at about one core, and its process group with it', async () => {
    const child = spawn(
      process.execPath,
      ['-e', 'const end = Date.now() + 1500; while (Date.now() < end) {}'],
      {
        detached: true,
        stdio: 'ignore',
      },
    );
    const pid = child.pid as number;
    const meter = coresMeter(() => processCpuSeconds(pid));
    await new Promise((r) => setTimeout(r, 1000));
    const cores = meter.stop();
    const group = processGroupCpuSeconds(pid); // detached: the child leads its own group
    await new Promise((r) => child.on('exit', r));
    // A spinning loop is one core; a loaded machine may give it far less, never more than a core and a bit.
    expect(cores).toBeGreaterThan(0.05);
    expect(cores).toBeLessThan(1.3);
    expect(group).toBeGreaterThan(0.05);
    expect(processCpuSeconds(pid)).toBeUndefined();
  });

  it('lists a group by executable name and sums its resident memory', async () => {
    // A child holding ~64 MiB of touched memory, leading its own group.
    const child = spawn(
      process.execPath,
      ['-e', 'const b = Buffer.alloc(64 << 20, 1); setTimeout(() => b.length, 3000)'],
      { detached: true, stdio: 'ignore' },
    );
    const pid = child.pid as number;
    await new Promise((r) => setTimeout(r, 800));
    const members = processGroupMembers(pid);
    expect(members.map((m) => m.pid)).toEqual([pid]);
    expect(members[0]?.comm).toBe('node');
    expect(processGroupRssBytes(pid)).toBeGreaterThan(64 << 20);
    expect(processGroupRssBytes(pid)).toBe(processRssBytes(pid));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    expect(processGroupMembers(pid)).toEqual([]);
    expect(processRssBytes(pid)).toBe(0);
  });

  it("counts in a group's tree what its members started in groups of their own, and not the group's parent", async () => {
    // A leader that starts a child in a new group, as the Spark launcher starts spark-submit.
    const script =
      "const c = require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)']," +
      " { detached: true, stdio: 'ignore' }); console.log(c.pid); setInterval(() => {}, 1000);";
    const leader = spawn(process.execPath, ['-e', script], {
      detached: true,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const leaderPid = leader.pid as number;
    const grandchild = await new Promise<number>((resolve) =>
      leader.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))),
    );
    try {
      expect(processGroupMembers(leaderPid).map((m) => m.pid)).toEqual([leaderPid]);
      expect(
        processTreeMembers(leaderPid)
          .map((m) => m.pid)
          .sort(),
      ).toEqual([leaderPid, grandchild].sort());
      expect(processTreeMembers(leaderPid).map((m) => m.pid)).not.toContain(process.pid);
    } finally {
      process.kill(-grandchild, 'SIGKILL');
      process.kill(-leaderPid, 'SIGKILL');
    }
  });
});
