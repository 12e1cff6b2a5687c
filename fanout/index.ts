/**
 * The public entry of the fan-out: what tests in other folders, benches and scripts import (never the files
 * behind it). Three roles, each a factory taking its config and optional dependencies, plus the viewer client:
 *
 * - {@link createMainPublisher}: aggregates topic → per-cluster topics; serves the directory and snapshots.
 *   {@link createDirectoryServer} serves the directory alone (no Kafka), for benches and Socket.IO tests.
 * - {@link createClusterPublisher}: its cluster's topic (or an in-process {@link WindowFeed}) → subscribed nodes.
 * - {@link createSubscriberNode}: the Socket.IO server viewers join; its upstreams are the
 *   {@link PublisherLink} and the {@link DirectoryClient}, each with an in-memory fake
 *   ({@link FakePublisher}, {@link InMemoryDirectory}) for tests.
 * - {@link createViewer}: a viewer as apps implement it, with the client-side helpers (among them the
 *   {@link LatencyTracker} and its split of a latency into the pipeline's hops, {@link HopStats}).
 *
 * `fanout/main.ts <role>` runs one role as a process.
 */

export { HOPS, type HopId, HopStats, type HopSummary, hopDurations } from './client/hop-trace.ts';
export { type LatencySummary, LatencyTracker } from './client/latency-tracker.ts';
export { formatSwarm, formatWindowLine, formatWindowSpan, swarmSize } from './client/swarm-format.ts';
export { createViewer, type Viewer, type ViewerEvents, type ViewerOptions } from './client/viewer-client.ts';
export {
  type ClusterPublisher,
  type ClusterPublisherDeps,
  createClusterPublisher,
} from './cluster-publisher/cluster-publisher.ts';
export { WindowFeed } from './cluster-publisher/window-feed.ts';
export {
  type ClusterPublisherConfig,
  clusterPublisherConfigFromEnv,
  clusterTopic,
  type MainPublisherConfig,
  mainPublisherConfigFromEnv,
  type SubscriberNodeConfig,
  subscriberNodeConfigFromEnv,
} from './config.ts';
export type { FanoutMetrics } from './http-server.ts';
export { type Assignment, Directory, type NodeReport } from './main-publisher/directory.ts';
export {
  createDirectoryServer,
  type DirectoryServer,
  type DirectoryServerOptions,
} from './main-publisher/directory-server.ts';
export {
  createMainPublisher,
  type MainPublisher,
  type MainPublisherDeps,
} from './main-publisher/main-publisher.ts';
export {
  type DirectoryClient,
  httpDirectoryClient,
  InMemoryDirectory,
} from './subscriber-node/directory-client.ts';
export {
  type ConnectPublisher,
  FakePublisher,
  type PublisherLink,
  type PublisherLinkHandlers,
  socketPublisherLink,
} from './subscriber-node/publisher-link.ts';
export {
  createSubscriberNode,
  type SubscriberNode,
  type SubscriberNodeDeps,
} from './subscriber-node/subscriber-node.ts';
