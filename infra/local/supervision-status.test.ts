import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { statusPortFrom } from './foreground.ts';
import { startStatusServer } from './supervision-status.ts';
import type { RunningService, ServiceEvents } from './supervisor.ts';

/** A RunningService as the status endpoint reads it; the supervisor's own behaviour is tested elsewhere. */
function fake(name: string, fields: Partial<RunningService>): RunningService {
  return {
    name,
    pid: 999_999_999,
    logFile: `/logs/${name}.log`,
    addresses: {},
    state: 'ready',
    restarts: 0,
    lastExit: undefined,
    failure: undefined,
    events: new EventEmitter<ServiceEvents>(),
    exited: new Promise(() => {}),
    stop: async () => {},
    ...fields,
  };
}

describe('supervisor status endpoint', () => {
  it('serves /status and /metrics from the services as they are now', async () => {
    const exit = { code: 137, signal: null, at: '2026-12-01T00:00:00.000Z' };
    const services = [
      fake('kafka', {}),
      fake('spark-job', { state: 'backoff', restarts: 2, lastExit: exit }),
      // This very process as a running service: its pid is the one a live group leader reports.
      fake('self', { pid: process.pid }),
    ];
    const server = await startStatusServer(services, { host: '127.0.0.1', port: 0 });
    try {
      const status = (await (await fetch(`${server.url}/status`)).json()) as { services: unknown[] };
      expect(status.services).toEqual([
        {
          name: 'kafka',
          state: 'ready',
          pgid: 999_999_999,
          pid: null,
          restarts: 0,
          lastExit: null,
          log: '/logs/kafka.log',
        },
        {
          name: 'spark-job',
          state: 'backoff',
          pgid: 999_999_999,
          pid: null,
          restarts: 2,
          lastExit: exit,
          log: '/logs/spark-job.log',
        },
        expect.objectContaining({ name: 'self', pgid: process.pid, pid: process.pid }),
      ]);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toMatch(/^emostream_service_restarts_total\{service="spark-job"\} 2$/m);
      expect(metrics).toMatch(/^emostream_service_restarts_total\{service="kafka"\} 0$/m);
      expect(metrics).toMatch(/^emostream_service_up\{service="kafka"\} 1$/m);
      expect(metrics).toMatch(/^emostream_service_up\{service="spark-job"\} 0$/m);
      // Read at scrape time: a restart shows without anyone updating a metric.
      Object.assign(services[0] as object, { restarts: 1 });
      expect(await (await fetch(`${server.url}/metrics`)).text()).toMatch(
        /^emostream_service_restarts_total\{service="kafka"\} 1$/m,
      );
      expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('names a taken port, and parses --status-port (0 = a free one)', async () => {
    const first = await startStatusServer([], { host: '127.0.0.1', port: 0 });
    try {
      const port = Number(new URL(first.url).port);
      await expect(startStatusServer([], { host: '127.0.0.1', port })).rejects.toThrow(
        `Supervisor status endpoint cannot listen on 127.0.0.1:${port}: the port is already in use`,
      );
    } finally {
      await first.close();
    }
    expect(statusPortFrom({}, {})).toBe(8089);
    expect(statusPortFrom({ 'status-port': 0 }, {})).toBe(0);
    expect(statusPortFrom({}, { EMOSTREAM_STATUS_PORT: '18089' })).toBe(18089);
    expect(() => statusPortFrom({ 'status-port': 'x' }, {})).toThrow(/--status-port must be a port number/);
  });
});
