/**
 * Fan-out benchmark (`npm run bench:fanout`): ONE subscriber node on this machine holding 1k / 5k / 10k / 20k
 * viewers (socket.io-client, websocket transport, many per process), broadcast latency from the cluster
 * publisher's emit (`sent_at`) to receipt at every viewer, and the node's memory per viewer.
 *
 * Processes: this one runs a directory and the cluster publisher (fed through a `WindowFeed`, no Kafka: the
 * measured hops are Socket.IO only); the subscriber node runs in a child (its memory is measured alone); viewers
 * run in several children so no process exceeds its file-descriptor limit.
 *
 * Options: --levels 1000,5000,10000,20000  --broadcasts 10 (per level, one per --interval ms)  --interval 1000
 *          --workers 4  --deadline 480 (seconds for the whole run)  --client socket.io|raw (raw: a minimal
 *          wire-protocol viewer, to separate the node's time from socket.io-client's own CPU on a shared machine;
 *          floor: no Socket.IO, Engine.IO or WebSocket at all — a plain `node:net` server writes a frame of the same
 *          size to every plain TCP viewer, the least any single process can spend per broadcast on this machine).
 *          --pin (the node alone on CPU 0, everything else on the other CPUs, with taskset)
 *          --compare floor|none (floor, the default: a floor pass follows in the same run, and the report gives
 *          p99, node CPU and viewers' CPU per broadcast as a ratio to it). Writes
 *          reports/bench-fanout-<client>.json and .svg.
 * Env: BENCH_PROFILE_DIR=dir (V8 CPU profiles of the node and viewer processes), BENCH_NODE_ARGS="--flag …" (Node/V8
 *      flags for the node process alone).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Socket as TcpSocket, connect as tcpConnect } from 'node:net';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import { pino } from 'pino';
import { io as connect, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import type { SwarmMessage, SwarmWindow } from '../common/socket-events.ts';
import {
  createClusterPublisher,
  createDirectoryServer,
  createSubscriberNode,
  WindowFeed,
} from '../fanout/index.ts';
import { compareToFloor } from './floor-ratio.ts';
import { lineChartSvg } from './svg-chart.ts';

const SCRIPT = fileURLToPath(import.meta.url);
const MATCH = 'bench-match';
const quiet = pino({ level: 'warn' });

type ToNode = { type: 'mem' } | { type: 'broadcast'; message: SwarmMessage };
type FromNode =
  | { type: 'ready'; url: string }
  | {
      type: 'mem';
      rss: number;
      heapUsed: number;
      viewers: number;
      cpuMs: number;
      relayMs: number;
      relays: number;
    };
type ToViewers = { type: 'target'; count: number; url: string } | { type: 'collect' } | { type: 'reset' };
type FromViewers =
  | {
      type: 'progress';
      joined: number;
      failed: number;
      disconnected: number;
      received: number;
      cpuMs: number;
    }
  | { type: 'latencies'; values: number[] };

// ---- child: the subscriber node --------------------------------------------------------------------------------

async function runNode(): Promise<void> {
  const node = createSubscriberNode(
    {
      host: '127.0.0.1',
      port: 0,
      clusterId: 'bench',
      nodeId: 'bench-node',
      clusterPublisherUrl: process.env.BENCH_PUBLISHER_URL ?? '',
      directoryUrl: process.env.BENCH_DIRECTORY_URL ?? '',
      maxRoomsPerSocket: 8,
      slowViewerMs: 10_000,
      maxViewerBufferBytes: 1 << 20,
      heartbeatMs: 1_000,
    },
    { logger: quiet },
  );
  await node.start();
  process.on('message', (msg: ToNode) => {
    if (msg.type !== 'mem') return;
    void (async () => {
      globalThis.gc?.();
      const mem = process.memoryUsage();
      const cpu = process.cpuUsage();
      // The node's own view: seconds from the publisher's emit to its broadcast returning, summed.
      const relay = (await node.metrics.emitLatency.get()).values;
      process.send?.({
        type: 'mem',
        rss: mem.rss,
        heapUsed: mem.heapUsed,
        viewers: node.viewerCount,
        cpuMs: (cpu.user + cpu.system) / 1000,
        relayMs: (relay.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0) * 1000,
        relays: relay.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0,
      } as FromNode);
    })();
  });
  process.on('SIGTERM', () => {
    void node.stop().finally(() => process.exit(0));
  });
  process.send?.({ type: 'ready', url: node.url } as FromNode);
}

/**
 * The floor: what writing one broadcast to every viewer costs with no Socket.IO, Engine.IO or WebSocket code at all.
 * A plain TCP server writes one pre-built buffer per broadcast — the Socket.IO frame's size, newline-terminated
 * JSON carrying `sent_at` — to every connected socket, in one synchronous loop, as a broadcast must.
 */
async function runFloorNode(): Promise<void> {
  const sockets = new Set<TcpSocket>();
  let relayMs = 0;
  let relays = 0;
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  process.on('message', (msg: ToNode) => {
    if (msg.type === 'broadcast') {
      const started = performance.now();
      // Same bytes on the wire as the node's frame: `42["swarm",{…}]` plus a 4-byte WebSocket header.
      const size = Buffer.byteLength(`42${JSON.stringify(['swarm', msg.message])}`) + 4;
      const body = JSON.stringify({ sent_at: msg.message.sent_at });
      const frame = Buffer.from(`${body.padEnd(size - 1, ' ')}\n`);
      for (const socket of sockets) socket.write(frame);
      relayMs += performance.now() - started;
      relays++;
      return;
    }
    globalThis.gc?.();
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage();
    process.send?.({
      type: 'mem',
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      viewers: sockets.size,
      cpuMs: (cpu.user + cpu.system) / 1000,
      relayMs,
      relays,
    } as FromNode);
  });
  process.on('SIGTERM', () => process.exit(0));
  process.send?.({ type: 'ready', url: `http://127.0.0.1:${port}` } as FromNode);
}

// ---- child: a group of viewers ---------------------------------------------------------------------------------

/**
 * A viewer speaking the Engine.IO v4 / Socket.IO v5 wire protocol directly over `ws` (websocket transport):
 * open → `40` connect → `420["join",…]` → ack `430[…]`; answers pings; `42["swarm",…]` are the broadcasts.
 * It costs the load generator a fraction of socket.io-client's CPU per message, which on a small machine
 * shared by the node and its viewers separates the node's fan-out time from the receivers' own cost.
 */
function openRawViewer(
  url: string,
  onSwarm: (message: SwarmMessage) => void,
  done: (ok: boolean) => void,
  onClose: () => void,
): { close(): void } {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`, {
    perMessageDeflate: false,
  });
  ws.on('message', (data: Buffer) => {
    const text = data.toString();
    const type = text.charCodeAt(0);
    if (type === 50 /* '2' ping */) ws.send('3');
    else if (text.startsWith('42["swarm",')) onSwarm(JSON.parse(text.slice(11, -1)) as SwarmMessage);
    else if (type === 48 /* '0' open */) ws.send('40');
    else if (text.startsWith('40')) ws.send(`420["join",{"match_id":"${MATCH}"}]`);
    else if (text.startsWith('430')) done((JSON.parse(text.slice(3)) as [{ ok: boolean }])[0].ok);
  });
  ws.on('error', () => done(false));
  ws.on('close', onClose);
  return { close: () => ws.close() };
}

/** A floor viewer: a plain TCP socket; every newline-terminated line is one broadcast carrying `sent_at`. */
function openFloorViewer(
  url: string,
  onSentAt: (sentAt: number) => void,
  done: (ok: boolean) => void,
  onClose: () => void,
): { close(): void } {
  const { hostname, port } = new URL(url);
  const socket = tcpConnect(Number(port), hostname);
  let pending = '';
  socket.setEncoding('utf8');
  socket.on('connect', () => done(true));
  socket.on('data', (chunk: string) => {
    pending += chunk;
    for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n')) {
      onSentAt((JSON.parse(pending.slice(0, end)) as { sent_at: number }).sent_at);
      pending = pending.slice(end + 1);
    }
  });
  socket.on('error', () => done(false));
  socket.on('close', onClose);
  return { close: () => socket.destroy() };
}

function runViewers(): void {
  const raw = process.env.BENCH_CLIENT === 'raw';
  const floor = process.env.BENCH_CLIENT === 'floor';
  const sockets: { close(): void }[] = [];
  let joined = 0;
  let failed = 0;
  let disconnected = 0;
  let latencies: number[] = [];
  let target = 0;
  let url = '';
  let inFlight = 0;
  const MAX_IN_FLIGHT = 64;

  function openMore(): void {
    while (sockets.length < target && inFlight < MAX_IN_FLIGHT) {
      inFlight++;
      let settled = false;
      const done = (ok: boolean) => {
        if (settled) return;
        settled = true;
        inFlight--;
        if (ok) joined++;
        else failed++;
        setImmediate(openMore);
      };
      if (floor) {
        const onClose = () => {
          disconnected++;
        };
        sockets.push(openFloorViewer(url, (sentAt) => latencies.push(Date.now() - sentAt), done, onClose));
        continue;
      }
      if (raw) {
        sockets.push(
          openRawViewer(
            url,
            (message) => latencies.push(Date.now() - message.sent_at),
            done,
            () => {
              disconnected++;
            },
          ),
        );
        continue;
      }
      const socket: Socket = connect(url, {
        transports: ['websocket'],
        forceNew: true,
        reconnection: false,
        timeout: 30_000,
      });
      sockets.push(socket);
      socket.on('swarm', (message: SwarmMessage) => {
        latencies.push(Date.now() - message.sent_at);
      });
      socket.on('connect', () => {
        socket.emit('join', { match_id: MATCH }, (answer: { ok: boolean }) => done(answer.ok));
      });
      socket.on('connect_error', () => done(false));
      socket.on('disconnect', () => {
        disconnected++;
      });
    }
  }

  const progress = setInterval(() => {
    const cpu = process.cpuUsage();
    process.send?.({
      type: 'progress',
      joined,
      failed,
      disconnected,
      received: latencies.length,
      cpuMs: (cpu.user + cpu.system) / 1000,
    } as FromViewers);
  }, 250);
  progress.unref();
  process.on('message', (msg: ToViewers) => {
    if (msg.type === 'target') {
      target = msg.count;
      url = msg.url;
      openMore();
    } else if (msg.type === 'reset') {
      latencies = [];
    } else if (msg.type === 'collect') {
      process.send?.({ type: 'latencies', values: latencies } as FromViewers);
      latencies = [];
    }
  });
  process.on('SIGTERM', () => {
    for (const socket of sockets) socket.close();
    process.exit(0);
  });
}

// ---- parent ----------------------------------------------------------------------------------------------------

/** Starts this script in a child with the given role, its fd soft limit raised to the hard limit first. */
function spawnRole(role: 'node' | 'viewers', env: Record<string, string> = {}, cpu?: string): ChildProcess {
  // BENCH_PROFILE_DIR=dir writes V8 CPU profiles of the node and viewer processes there.
  const profile = process.env.BENCH_PROFILE_DIR
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}/${role}`]
    : [];
  // BENCH_NODE_ARGS="--flag …" adds Node/V8 flags to the node process alone, so a runtime setting of the node is
  // measured without changing the viewers it shares the cores with.
  const nodeArgs = role === 'node' ? (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean) : [];
  const args = [...process.execArgv, '--expose-gc', ...nodeArgs, ...profile, SCRIPT];
  const command = ['sh', '-c', 'ulimit -n "$(ulimit -Hn)" && exec "$0" "$@"', process.execPath, ...args];
  // --pin: the node on a CPU of its own (taskset); the viewers inherit this process's affinity, the other CPUs.
  const [file, ...argv] = cpu ? ['taskset', '-c', cpu, ...command] : command;
  return spawn(file as string, argv, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...env, BENCH_ROLE: role },
  });
}

function nextMessage<T extends { type: string }>(child: ChildProcess, type: T['type'], timeoutMs = 30_000) {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no ${type} from child within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onMessage = (msg: T) => {
      if (msg.type !== type) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(msg);
    };
    child.on('message', onMessage);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface LevelResult {
  viewers: number;
  joined: number;
  rampSeconds: number;
  broadcasts: number;
  deliveries: number;
  expected: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  nodeRssMb: number;
  nodeHeapMb: number;
  bytesPerViewer: number;
  /** Node CPU per broadcast, all work included (pings, sweeps, heartbeats). */
  nodeCpuMsPerBroadcast: number;
  /** Mean time from the publisher's emit to the node's broadcast call returning. */
  nodeRelayMs: number;
  /** CPU of all viewer processes per broadcast (receiving is part of what the latency measures). */
  viewersCpuMsPerBroadcast: number;
}

async function runParent(): Promise<void> {
  const { values } = parseArgs({
    options: {
      levels: { type: 'string', default: '1000,5000,10000,20000' },
      broadcasts: { type: 'string', default: '10' },
      interval: { type: 'string', default: '1000' },
      workers: { type: 'string', default: '4' },
      deadline: { type: 'string', default: '480' },
      client: { type: 'string', default: 'socket.io' },
      compare: { type: 'string', default: 'floor' },
      pin: { type: 'boolean', default: false },
    },
  });
  if (!['socket.io', 'raw', 'floor'].includes(values.client))
    throw new Error('--client is socket.io, raw or floor');
  if (!['floor', 'none'].includes(values.compare)) throw new Error('--compare is floor or none');
  const hardLimit = Number(execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim()) || 1024;
  // The node needs one descriptor per viewer plus a few of its own; no process may exceed the hard limit.
  const nodeCapacity = hardLimit - 64;
  const requested = values.levels.split(',').map(Number);
  const levels = requested.map((n) => Math.min(n, nodeCapacity));
  const broadcasts = Number(values.broadcasts);
  const interval = Number(values.interval);
  const workers = Number(values.workers);
  const deadline = Date.now() + Number(values.deadline) * 1000;
  if (levels.some((n, i) => n !== requested[i])) {
    console.log(
      `fd hard limit is ${hardLimit} per process: top level capped at ${nodeCapacity} viewers on one node`,
    );
  }

  // --pin: the node alone on CPU 0; the viewers, the publisher and this process on the others.
  const cpuCount = availableParallelism();
  if (values.pin && cpuCount < 2) throw new Error('--pin needs at least 2 CPUs');
  const nodeCpu = values.pin ? '0' : undefined;
  if (values.pin) {
    const rest = `1-${cpuCount - 1}`;
    execFileSync('taskset', ['-a', '-p', '-c', rest, String(process.pid)], { stdio: 'ignore' });
    console.log(`pinned: the node on CPU ${nodeCpu}; viewers, publisher and directory on CPU ${rest}`);
  }

  const directoryServer = createDirectoryServer({ host: '127.0.0.1', port: 0 });
  await directoryServer.start();
  const feed = new WindowFeed();
  const publisher = createClusterPublisher(
    {
      kafkaBrokers: [],
      registryUrl: '',
      host: '127.0.0.1',
      port: 0,
      clusterId: 'bench',
      groupId: 'unused',
      topicPrefix: 'unused',
      topicPartitions: 1,
      staleMs: 60_000,
    },
    { logger: quiet, windows: feed },
  );
  await publisher.start();

  const children: ChildProcess[] = [];
  const cleanup = () => {
    for (const child of children) child.kill('SIGTERM');
  };
  // Children stop before the publisher and directory they talk to, and get to write their CPU profiles.
  const stopChildren = () =>
    Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
            child.once('exit', () => {
              clearTimeout(force);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
  process.on('SIGINT', () => {
    cleanup();
    process.exit(130);
  });

  /** One pass: a node and its viewer processes for `client`, every level, then the children stopped. */
  const runPass = async (client: string): Promise<LevelResult[]> => {
    const node = spawnRole(
      'node',
      {
        BENCH_CLIENT: client,
        BENCH_PUBLISHER_URL: publisher.url,
        BENCH_DIRECTORY_URL: directoryServer.url,
        LOG_LEVEL: 'warn',
      },
      nodeCpu,
    );
    children.push(node);
    const { url: nodeUrl } = await nextMessage<Extract<FromNode, { type: 'ready' }>>(node, 'ready');
    const memory = async () => {
      node.send({ type: 'mem' } satisfies ToNode);
      return nextMessage<Extract<FromNode, { type: 'mem' }>>(node, 'mem');
    };
    await sleep(500);
    const baseline = await memory();

    const pool = Array.from({ length: workers }, () => spawnRole('viewers', { BENCH_CLIENT: client }));
    children.push(...pool);
    const progress = pool.map(() => ({ joined: 0, failed: 0, disconnected: 0, received: 0, cpuMs: 0 }));
    pool.forEach((child, i) => {
      child.on('message', (msg: FromViewers) => {
        if (msg.type === 'progress') progress[i] = msg;
      });
    });
    const total = (key: 'joined' | 'failed' | 'disconnected' | 'received' | 'cpuMs') =>
      progress.reduce((s, p) => s + p[key], 0);

    const window: SwarmWindow = {
      match_id: MATCH,
      window_start: 0,
      window_end: 2000,
      counts: { '🔥': 3785, '😂': 812, '👏': 1204, '😮': 97, '😢': 15, '❤️': 2210, '⚽': 640, '🎉': 33 },
      swarm: { '🔥': 3, '😂': 1, '👏': 1, '😮': 1, '😢': 1, '❤️': 2, '⚽': 1, '🎉': 1 },
      emitted_at: 0,
      routed_at: 0,
      aggregated_at: null,
    };

    const results: LevelResult[] = [];
    try {
      for (const level of levels) {
        if (Date.now() > deadline) {
          console.log(`deadline reached; skipping level ${level}`);
          break;
        }
        const rampStart = Date.now();
        pool.forEach((child, i) => {
          const share = Math.floor(level / workers) + (i < level % workers ? 1 : 0);
          child.send({ type: 'target', count: share, url: nodeUrl } satisfies ToViewers);
        });
        let last = 0;
        while (total('joined') + total('failed') < level && Date.now() < deadline) {
          await sleep(1000);
          const joined = total('joined');
          console.log(
            `level ${level}: ${joined}/${level} viewers joined (+${joined - last}/s), failed ${total('failed')}, dropped ${total('disconnected')}`,
          );
          last = joined;
        }
        const rampSeconds = (Date.now() - rampStart) / 1000;
        await sleep(2000);
        const memAtRest = await memory();
        const joined = total('joined') - total('disconnected');
        for (const child of pool) child.send({ type: 'reset' } satisfies ToViewers);
        await sleep(300);
        const before = await memory();
        const viewersCpuBefore = total('cpuMs');
        for (let b = 0; b < broadcasts; b++) {
          const now = Date.now();
          const swarm = {
            ...window,
            window_start: now,
            window_end: now + 2000,
            emitted_at: now,
            routed_at: now,
          };
          if (client === 'floor')
            node.send({ type: 'broadcast', message: { ...swarm, sent_at: now } } satisfies ToNode);
          else feed.push(swarm);
          await sleep(interval);
        }
        // Wait for every delivery (bounded): a late one must count in the percentiles, not vanish.
        const waitUntil = Date.now() + 20_000;
        while (total('received') < joined * broadcasts && Date.now() < waitUntil) await sleep(250);
        const mem = await memory();
        const viewersCpuMs = total('cpuMs') - viewersCpuBefore;
        const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000 });
        let deliveries = 0;
        for (const child of pool) {
          const reply = nextMessage<Extract<FromViewers, { type: 'latencies' }>>(child, 'latencies');
          child.send({ type: 'collect' } satisfies ToViewers);
          const { values: latencies } = await reply;
          deliveries += latencies.length;
          for (const v of latencies) histogram.recordValue(Math.max(1, v));
        }
        const result: LevelResult = {
          viewers: level,
          joined,
          rampSeconds,
          broadcasts,
          deliveries,
          expected: joined * broadcasts,
          p50: histogram.getValueAtPercentile(50),
          p90: histogram.getValueAtPercentile(90),
          p99: histogram.getValueAtPercentile(99),
          max: histogram.maxValue,
          nodeRssMb: memAtRest.rss / 2 ** 20,
          nodeHeapMb: memAtRest.heapUsed / 2 ** 20,
          bytesPerViewer: joined > 0 ? (memAtRest.rss - baseline.rss) / joined : 0,
          nodeCpuMsPerBroadcast: (mem.cpuMs - before.cpuMs) / broadcasts,
          nodeRelayMs:
            mem.relays > before.relays ? (mem.relayMs - before.relayMs) / (mem.relays - before.relays) : 0,
          viewersCpuMsPerBroadcast: viewersCpuMs / broadcasts,
        };
        results.push(result);
        console.log(
          `level ${level}: p50 ${result.p50} ms, p99 ${result.p99} ms, delivered ${deliveries}/${result.expected}, node RSS ${result.nodeRssMb.toFixed(0)} MiB`,
        );
      }
    } finally {
      await stopChildren();
      children.length = 0;
    }
    return results;
  };

  // The floor runs in the same invocation, right after, so the ratio compares runs on the same machine state.
  const passes =
    values.client === 'floor' || values.compare === 'none' ? [values.client] : [values.client, 'floor'];
  const byClient = new Map<string, LevelResult[]>();
  try {
    for (const client of passes) {
      console.log(`pass: ${client} clients`);
      byClient.set(client, await runPass(client));
    }
  } finally {
    await publisher.stop();
    await directoryServer.stop();
  }

  const sameRunFloor = values.client === 'floor' ? undefined : byClient.get('floor');
  mkdirSync('reports', { recursive: true });
  for (const [client, results] of byClient) {
    const rows = results.map(
      (r) =>
        `| ${r.joined} | ${r.rampSeconds.toFixed(1)} | ${r.deliveries}/${r.expected} | ${r.p50} | ${r.p90} | ${r.p99} | ${r.max} | ${r.nodeRelayMs.toFixed(1)} | ${r.nodeCpuMsPerBroadcast.toFixed(0)} | ${r.viewersCpuMsPerBroadcast.toFixed(0)} | ${r.nodeRssMb.toFixed(0)} | ${(r.bytesPerViewer / 1024).toFixed(1)} |`,
    );
    console.log(
      [
        '',
        `Fan-out benchmark: one subscriber node, ${broadcasts} broadcasts per level every ${interval} ms, ${workers} viewer processes (${client} clients)`,
        '| viewers | ramp s | delivered | p50 ms | p90 ms | p99 ms | max ms | node relay ms | node CPU ms/bcast | viewers CPU ms/bcast | node RSS MiB | KiB/viewer (RSS) |',
        '|---|---|---|---|---|---|---|---|---|---|---|---|',
        ...rows,
      ].join('\n'),
    );
    // The floor of this run (when it ran): per level, how many times the floor's p99 and CPU this client costs.
    const floor = client === 'floor' ? undefined : sameRunFloor;
    const vsFloor = floor?.length ? compareToFloor(results, floor) : [];
    writeFileSync(
      `reports/bench-fanout-${client}.json`,
      `${JSON.stringify({ client, hardLimit, broadcasts, interval, workers, results, ...(vsFloor.length ? { vsFloor } : {}) }, null, 2)}\n`,
    );
    // The chart beside the report: latency against viewers, with this run's floor (plain TCP) when it ran.
    writeFileSync(
      `reports/bench-fanout-${client}.svg`,
      lineChartSvg({
        title: `Broadcast latency vs viewers, one subscriber node (${client} clients)`,
        xLabel: 'viewers',
        yLabel: 'ms',
        series: [
          { name: 'p50', points: results.map((r) => [r.joined, r.p50]) },
          { name: 'p99', points: results.map((r) => [r.joined, r.p99]) },
          ...(floor?.length
            ? [
                {
                  name: 'floor p99 (plain TCP, same run)',
                  points: floor.map((r) => [r.joined, r.p99] as const),
                  dashed: true,
                },
              ]
            : []),
        ],
        hLines: [{ y: 250, label: 'target p99 250 ms' }],
      }),
    );
    console.log(`report: reports/bench-fanout-${client}.json, chart: reports/bench-fanout-${client}.svg`);
    if (vsFloor.length > 0) {
      console.log(
        [
          '',
          `${client} vs the floor in this run (target: p99 ≤ 1.6× the floor's at the top level)`,
          '| viewers | p99 ms | floor p99 ms | p99 ÷ floor | node CPU ms/bcast | floor CPU ms/bcast | CPU ÷ floor | viewers CPU ms/bcast | floor viewers CPU ms/bcast | viewers CPU ÷ floor |',
          '|---|---|---|---|---|---|---|---|---|---|',
          ...vsFloor.map(
            (v) =>
              `| ${v.viewers} | ${v.p99} | ${v.floorP99} | ${v.p99Ratio.toFixed(2)} | ${v.nodeCpuMsPerBroadcast.toFixed(0)} | ${v.floorNodeCpuMsPerBroadcast.toFixed(0)} | ${v.cpuRatio.toFixed(2)} | ${v.viewersCpuMsPerBroadcast.toFixed(0)} | ${v.floorViewersCpuMsPerBroadcast.toFixed(0)} | ${v.viewersCpuRatio.toFixed(2)} |`,
          ),
        ].join('\n'),
      );
      const top = vsFloor.at(-1);
      if (top !== undefined)
        console.log(
          top.p99Ratio <= 1.6
            ? `ratio target met: p99 ${top.p99Ratio.toFixed(2)}× the floor at ${top.viewers} viewers`
            : `ratio target NOT met: p99 ${top.p99Ratio.toFixed(2)}× the floor at ${top.viewers} viewers (≤ 1.6×)`,
        );
    }
    const top = results.at(-1);
    console.log(
      top !== undefined && top.p99 <= 250
        ? `target met: p99 ${top.p99} ms at ${top.joined} viewers`
        : `target NOT met (p99 ≤ 250 ms at the top level)`,
    );
  }
  process.exit(0);
}

const role = process.env.BENCH_ROLE ?? 'parent';
if (role === 'node') await (process.env.BENCH_CLIENT === 'floor' ? runFloorNode() : runNode());
else if (role === 'viewers') runViewers();
else await runParent();
