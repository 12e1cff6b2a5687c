/** Default topic names; every service takes them from its config, so these are only defaults. */
export const TOPICS = {
  reactions: 'emoji.reactions.v1',
  aggregates: 'emoji.aggregates.v1',
  /** Top emojis per match over a sliding window (jobs/spark-sql/emoji-trend). */
  trends: 'emoji.trends.v1',
  /** The queue between the main publisher and the cluster publishers. */
  fanout: 'emoji.fanout.v1',
} as const;
