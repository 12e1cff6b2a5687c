import { describe, expect, it } from 'vitest';
import { artifactOfJar } from './provisioner.ts';

describe('artifactOfJar', () => {
  it.each([
    ['kafka-clients-3.9.0.jar', 'kafka-clients'],
    ['spark-sql-kafka-0-10_2.13-4.0.0.jar', 'spark-sql-kafka-0-10_2.13'],
    ['spark-token-provider-kafka-0-10_2.13-4.0.0.jar', 'spark-token-provider-kafka-0-10_2.13'],
    ['zstd-jni-1.5.6-10.jar', 'zstd-jni'],
    ['commons-pool2-2.12.0.jar', 'commons-pool2'],
    ['scala-parallel-collections_2.13-1.2.0.jar', 'scala-parallel-collections_2.13'],
    ['hadoop-client-api-3.4.1.jar', 'hadoop-client-api'],
    ['jsr305-3.0.0.jar', 'jsr305'],
  ])('%s → %s', (file, artifact) => {
    expect(artifactOfJar(file)).toBe(artifact);
  });
});
