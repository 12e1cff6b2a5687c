import versions from '../../versions.json' with { type: 'json' };

/** Names (repository:tag) of the images the container suite runs; each can be replaced through the environment. */
export interface ImageNames {
  /** Debian + JRE + python3, the root of the local images. `EMOSTREAM_BASE_IMAGE`. */
  base: string;
  /** Kafka broker (KRaft), configured through `KAFKA_*` variables like apache/kafka. `EMOSTREAM_KAFKA_IMAGE`. */
  kafka: string;
  /** Apicurio Registry (Quarkus, configured through env like apicurio/apicurio-registry). `EMOSTREAM_REGISTRY_IMAGE`. */
  registry: string;
  /** Spark (`/opt/spark/bin/spark-submit`, connector jars in `/opt/emostream/spark-jars`). `EMOSTREAM_SPARK_IMAGE`. */
  spark: string;
  /** Node.js (the suite's own node binary) to run the TypeScript services from a mounted checkout. `EMOSTREAM_NODE_IMAGE`. */
  node: string;
}

/** Environment variables that override each image name. */
export const imageEnv = {
  base: 'EMOSTREAM_BASE_IMAGE',
  kafka: 'EMOSTREAM_KAFKA_IMAGE',
  registry: 'EMOSTREAM_REGISTRY_IMAGE',
  spark: 'EMOSTREAM_SPARK_IMAGE',
  node: 'EMOSTREAM_NODE_IMAGE',
} as const satisfies Record<keyof ImageNames, string>;

/** Default names: local `emostream/*` images tagged with the pinned versions from versions.json. */
export function defaultImageNames(): ImageNames {
  return {
    base: `emostream/base:jre${versions.requires.java}-python3`,
    kafka: `emostream/kafka:${versions.kafka.version}`,
    registry: `emostream/apicurio-registry:${versions.apicurioRegistry.version}`,
    spark: `emostream/spark:${versions.spark.pyspark}`,
    node: `emostream/node:${process.versions.node}`,
  };
}

/** Image names after applying the `EMOSTREAM_*_IMAGE` overrides found in `env`. */
export function imageNames(env: NodeJS.ProcessEnv = process.env): ImageNames {
  const names = defaultImageNames();
  for (const key of Object.keys(imageEnv) as (keyof ImageNames)[]) {
    const value = env[imageEnv[key]]?.trim();
    if (value) names[key] = value;
  }
  return names;
}
