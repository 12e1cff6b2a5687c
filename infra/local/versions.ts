import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const Coordinates = z.string().regex(/^[\w.-]+:[\w.-]+$/, 'expected groupId:artifactId');

const VersionsSchema = z.object({
  kafka: z.object({
    maven: Coordinates,
    version: z.string().min(1),
    /** log4j2 binding the broker logs through; Kafka's pom leaves the slf4j binding to the distribution. */
    log4j: z.string().min(1),
  }),
  apicurioRegistry: z.object({
    maven: Coordinates,
    version: z.string().min(1),
    classifier: z.string().min(1),
    packaging: z.string().min(1),
    /** Lowest JDK feature release the registry's classes are compiled for. */
    java: z.number().int().positive(),
  }),
  spark: z.object({
    pyspark: z.string().min(1),
    scala: z.string().min(1),
    packages: z.array(Coordinates).min(1),
    /** Highest JDK feature release this Spark supports. */
    javaMax: z.number().int().positive(),
  }),
  /** The second engine, provisioned on first use of a Flink job (`provisionFlink`). */
  flink: z.object({
    pyflink: z.string().min(1),
    /** `groupId:artifactId:version` of self-contained connector jars, fetched without their dependencies. */
    jars: z
      .array(z.string().regex(/^[\w.-]+:[\w.-]+:[\w.-]+$/, 'expected groupId:artifactId:version'))
      .min(1),
    /** Highest JDK feature release this Flink supports. */
    javaMax: z.number().int().positive(),
  }),
  /** The OpenAPI fuzzer of `npm run fuzz:openapi` (a dev tool, installed on first use, not by provision). */
  schemathesis: z.object({ pypi: z.string().min(1), version: z.string().min(1) }),
  requires: z.object({
    java: z.number().int().positive(),
    python: z.string().regex(/^\d+\.\d+$/),
  }),
});

/** Every external artifact the runtime provisions, as pinned in the repository's `versions.json`. */
export type Versions = z.infer<typeof VersionsSchema>;

/** The repository root (three levels above this file). */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

let cached: Versions | undefined;

/** Reads and validates `versions.json` once; a bad file is a programming error, so it throws. */
export function loadVersions(): Versions {
  if (!cached) {
    const raw: unknown = JSON.parse(readFileSync(new URL('../../versions.json', import.meta.url), 'utf8'));
    const parsed = VersionsSchema.safeParse(raw);
    if (!parsed.success) {
      throw new Error(`versions.json is invalid: ${z.prettifyError(parsed.error)}`);
    }
    cached = parsed.data;
  }
  return cached;
}
