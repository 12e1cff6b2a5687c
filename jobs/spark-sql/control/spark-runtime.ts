import { type SparkRuntime, sparkRuntime } from '../../../infra/local/spark-submit.ts';
import { JobError } from './errors.ts';

export type { SparkRuntime };

/**
 * spark-submit, connector jars and environment of the provisioned runtime (`npm run provision`), with the runtime's
 * error turned into a job error that says what to run.
 */
export async function resolveSparkRuntime(): Promise<SparkRuntime> {
  try {
    return await sparkRuntime();
  } catch (err) {
    throw new JobError(`Spark is not ready: ${(err as Error).message}`, { cause: err });
  }
}
