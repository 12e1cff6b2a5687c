/** Default topic names; every service takes them from its config, so these are only defaults. */
export const TOPICS = {
  reactions: 'emoji.reactions.v1',
  aggregates: 'emoji.aggregates.v1',
  /** The queue between the main publisher and the cluster publishers. */
  fanout: 'emoji.fanout.v1',
} as const;

/**
 * The default Kafka topic of a logical topic name: {@link TOPICS}' entry, else the convention `emoji.<name>.v1`.
 * A Spark job's sink may name a new logical topic in its yml (emoji-trend's `trends` is `emoji.trends.v1`) with
 * no code change; `<NAME>_TOPIC` overrides it like any other.
 */
export function defaultTopic(logical: string): string {
  return (TOPICS as Record<string, string>)[logical] ?? `emoji.${logical}.v1`;
}
