import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * The one structured JSON logger of a process. Services take a child per component
 * (`logger.child({ component: 'producer' })`) instead of creating loggers of their own.
 */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ name: service, level, base: { service } });
}
