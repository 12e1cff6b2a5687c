/**
 * A tiny process for service.test.ts: runs a fake {@link Service} under {@link runMain}, told by FIXTURE_* what
 * to do, and logs each lifecycle step as a JSON line on stdout for the test to read.
 *
 * - FIXTURE_START: `ok` (default) | `fail` (rejects with a cause) | `hang` (never settles)
 * - FIXTURE_STOP: `ok` (default) | `fail` | `hang`
 * - FIXTURE_AFTER_START: `reject` leaves a promise rejection unhandled once started; `end` makes the service end
 *   on its own (its `ended` promise settles) 200 ms after start
 * - FIXTURE_FORCE_EXIT_MS: forceExitMs of runMain
 */
import { createLogger } from './logger.ts';
import { runMain, type Service } from './service.ts';

const logger = createLogger('service-fixture', 'info');
const never = new Promise<void>(() => {});
// The pending promises above must not be all that keeps the process alive: a real service holds a server open.
const keepAlive = setInterval(() => {}, 1 << 30);

let stops = 0;
let endNow: (why: string) => void = () => {};
const ended = new Promise<string>((resolve) => {
  endNow = resolve;
});
const service: Service = {
  ended,
  async start() {
    logger.info({ step: 'start' }, 'starting');
    if (process.env.FIXTURE_START === 'fail') {
      throw new Error('cannot listen', { cause: new Error('EADDRINUSE 127.0.0.1:1') });
    }
    if (process.env.FIXTURE_START === 'hang') await never;
    if (process.env.FIXTURE_AFTER_START === 'end') setTimeout(() => endNow('driver exited'), 200);
  },
  async stop() {
    stops++;
    logger.info({ step: 'stop', stops }, 'stop ran');
    if (process.env.FIXTURE_STOP === 'hang') await never;
    if (process.env.FIXTURE_STOP === 'fail') throw new Error('flush failed');
    clearInterval(keepAlive);
  },
};

await runMain(service, logger, {
  forceExitMs: process.env.FIXTURE_FORCE_EXIT_MS ? Number(process.env.FIXTURE_FORCE_EXIT_MS) : undefined,
});
logger.info({ step: 'ready' }, 'ready');
if (process.env.FIXTURE_AFTER_START === 'reject') void Promise.reject(new Error('lost promise'));
