import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AvroSerializer, SchemaRegistryClient, SerdeType } from '@confluentinc/schemaregistry';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createKafka } from '../../common/kafka.ts';
import { createLogger } from '../../common/logger.ts';
import { TOPICS } from '../../common/topics.ts';
import { sparkRuntime } from './spark-submit.ts';
import { repoRoot } from './versions.ts';

const APP = fileURLToPath(new URL('./fixtures/spark-kafka-smoke.py', import.meta.url));
const SCHEMA = path.join(repoRoot, 'schemas', 'reaction.avsc');
const work = mkdtempSync(path.join(tmpdir(), 'emostream-spark-smoke-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function produceReactions(matchId: string, emojis: string[]): Promise<void> {
  const client = new SchemaRegistryClient({ baseURLs: [inject('registryUrl')] });
  await client.register(`${TOPICS.reactions}-value`, {
    schemaType: 'AVRO',
    schema: readFileSync(SCHEMA, 'utf8'),
  });
  const serializer = new AvroSerializer(client, SerdeType.VALUE, { useLatestVersion: true });
  const now = Date.now();
  const messages = await Promise.all(
    emojis.map(async (emoji, i) => ({
      key: `user-${i}`,
      value: await serializer.serialize(TOPICS.reactions, {
        event_id: randomUUID(),
        match_id: matchId,
        user_id: `user-${i}`,
        emoji,
        client_ts: now,
        ingest_ts: now,
      }),
    })),
  );
  const kafka = createKafka({
    clientId: 'spark-submit-int-test',
    brokers: inject('kafkaBrokers'),
    logger: createLogger('spark-submit-int-test'),
  });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: TOPICS.reactions, acks: -1, messages });
  await producer.disconnect();
}

describe('spark-submit from the provisioned cache', () => {
  it('runs a structured streaming query that reads the reactions topic through the Kafka and Avro connectors', async () => {
    const matchId = `spark-smoke-${randomUUID()}`;
    const emojis = [...Array(150).fill('🔥'), ...Array(70).fill('👏'), ...Array(30).fill('❤️')];
    await produceReactions(matchId, emojis);

    const result = path.join(work, 'result.json');
    const spark = await sparkRuntime();
    expect(spark.jars.some((j) => /spark-sql-kafka-0-10_2\.13-.*\.jar$/.test(j))).toBe(true);
    expect(spark.jars.some((j) => /spark-avro_2\.13-.*\.jar$/.test(j))).toBe(true);
    // The runtime alone, not the job launcher: this proves the provisioned Spark and its connector jars work.
    const args = [
      '--master',
      'local[2]',
      '--jars',
      spark.jars.join(','),
      ...['--conf', 'spark.ui.enabled=false', '--conf', 'spark.driver.host=127.0.0.1'],
      ...['--conf', 'spark.driver.bindAddress=127.0.0.1', '--conf', 'spark.sql.shuffle.partitions=2'],
      APP,
      ...[inject('kafkaBrokers'), TOPICS.reactions, SCHEMA, matchId, work, result],
    ];

    const logFile = path.join(work, 'spark-submit.log');
    const output: Buffer[] = [];
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(spark.sparkSubmit, args, { env: { ...process.env, ...spark.env }, stdio: 'pipe' });
      child.stdout.on('data', (d: Buffer) => output.push(d));
      child.stderr.on('data', (d: Buffer) => output.push(d));
      child.on('error', reject);
      child.on('close', resolve);
    });
    writeFileSync(logFile, Buffer.concat(output));
    if (code !== 0) {
      const tail = Buffer.concat(output).toString().split('\n').slice(-40).join('\n');
      throw new Error(`spark-submit exited with ${code}:\n${tail}`);
    }

    const counted = JSON.parse(readFileSync(result, 'utf8')) as {
      rows: number;
      byEmoji: Record<string, number>;
    };
    expect(counted.rows).toBe(250);
    expect(counted.byEmoji).toEqual({ '🔥': 150, '👏': 70, '❤️': 30 });
  }, 300_000);
});
