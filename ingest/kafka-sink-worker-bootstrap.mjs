// Entry of the Kafka producer thread. Worker threads do not inherit the parent's module hooks, so the worker
// registers tsx itself before loading the TypeScript worker (works under tsx, vitest and plain node alike).
import { register } from 'tsx/esm/api';

register();
await import('./kafka-sink-worker.ts');
