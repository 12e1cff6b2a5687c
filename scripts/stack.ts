#!/usr/bin/env tsx
/**
 * `npm run stack` — provision, then run Kafka (KRaft) and the schema registry in the foreground until Ctrl-C.
 * Ports: --kafka-port/KAFKA_PORT (9092), --controller-port/KAFKA_CONTROLLER_PORT (9093),
 * --registry-port/SCHEMA_REGISTRY_PORT (8081). Run dir (logs, pid files): --run-dir/EMOSTREAM_RUN_DIR, default
 * <cache>/run, renewed at start (the last run's logs move to logs/previous/). Data dir (Kafka's log, the registry's
 * database), kept across runs: --data-dir/EMOSTREAM_DATA_DIR, default <cache>/data; `--fresh` wipes it first.
 * Retention: --retention-ms, --retention-bytes, --segment-bytes (or EMOSTREAM_RETENTION_MS, …; see README).
 * A service that exits is restarted (supervisor.ts's DEFAULT_RESTART_POLICY); the supervisor's /status and
 * /metrics: --status-port/EMOSTREAM_STATUS_PORT (8089; 0 = a free port). `--secure`/EMOSTREAM_SECURE=1: Kafka on
 * SASL_SSL (SCRAM-SHA-512, a generated CA) and the registry behind basic auth (infra/local/kafka-security.ts).
 */
import { argv } from 'zx';
import { dataDirFrom } from '../infra/local/data-dir.ts';
import {
  portsFrom,
  reportFailure,
  runDirFrom,
  runForeground,
  secureFrom,
  statusPortFrom,
} from '../infra/local/foreground.ts';
import { retentionFrom } from '../infra/local/retention.ts';

try {
  const ports = portsFrom(argv);
  const secure = secureFrom(argv);
  process.exitCode = await runForeground({
    kafkaPort: ports.kafka,
    kafkaControllerPort: ports.kafkaController,
    registryPort: ports.registry,
    runDir: runDirFrom(argv),
    statusPort: statusPortFrom(argv),
    dataDir: dataDirFrom(argv),
    fresh: Boolean(argv.fresh),
    secure,
    retention: retentionFrom(argv),
  });
} catch (error) {
  process.exitCode = reportFailure(error);
}
