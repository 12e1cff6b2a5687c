#!/usr/bin/env tsx
/**
 * `npm run stack` — provision, then run Kafka (KRaft) and the schema registry in the foreground until Ctrl-C.
 * Ports: --kafka-port/KAFKA_PORT (9092), --controller-port/KAFKA_CONTROLLER_PORT (9093),
 * --registry-port/SCHEMA_REGISTRY_PORT (8081). Run dir (logs, Kafka data, pid files): --run-dir/EMOSTREAM_RUN_DIR,
 * default <cache>/run, wiped at start. A service that exits is restarted (supervisor.ts's DEFAULT_RESTART_POLICY);
 * the supervisor's /status and /metrics: --status-port/EMOSTREAM_STATUS_PORT (8089; 0 = a free port).
 */
import { argv } from 'zx';
import {
  portsFrom,
  reportFailure,
  runDirFrom,
  runForeground,
  statusPortFrom,
} from '../infra/local/foreground.ts';

try {
  const ports = portsFrom(argv);
  process.exitCode = await runForeground({
    kafkaPort: ports.kafka,
    kafkaControllerPort: ports.kafkaController,
    registryPort: ports.registry,
    runDir: runDirFrom(argv),
    statusPort: statusPortFrom(argv),
  });
} catch (error) {
  process.exitCode = reportFailure(error);
}
