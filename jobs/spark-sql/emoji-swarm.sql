-- emoji-swarm — reactions per match, emoji and event-time window, with the swarm size of each.
--
-- @param window       interval = 2 seconds
-- @param watermark    interval = 10 seconds
-- @param trigger      interval = 2 seconds   [stateless]
-- @param divisor      int      = 1000        [stateless]
-- @param source       topic    = reactions
-- @param sink         topic    = aggregates  [stateless]
-- @param event_time   column   = ingest_ts
-- @param sink_key     column   = match_id    [stateless]
-- @param output_mode  mode     = update
--
-- Parameters: `-- @param <name> <type> = <value>`, used in the query as ${name}. Types: interval, int, topic (a
-- logical name the runner maps to a Kafka topic from its configuration), column, mode (append | update | complete).
-- Every parameter is part of the job's stateful shape (an edit starts a new checkpoint) unless marked [stateless].
-- The query text itself is part of the shape too: edit the grouping and the job starts on a fresh checkpoint.
--
-- The source `${source}` is a view of decoded reactions (schemas/reaction.avsc) with the watermark
-- `${watermark}` already set on `${event_time}`; the query must return the columns of schemas/aggregate.avsc.
--
-- Output mode `update`, chosen for latency with exact final counts:
-- * Emitted: every trigger (${trigger}) writes one row per (match, window, emoji) that gained reactions in that
--   micro-batch, carrying the window's running total so far — a window is visible about one trigger after its
--   first reaction, not after the watermark passes it (as `append` would do, adding window + watermark of delay).
-- * Idempotent: rows are keyed by (match_id, window_start, emoji) and hold the total, not a delta; consumers keep
--   the latest. A replay after a crash re-emits the same totals from the checkpointed state, never a double count.
-- * Final: a window's count is final once the watermark (max ingest_ts seen − ${watermark}) passes its end; its
--   state is then dropped. Its last emitted row is its final count.
-- * Late reactions: one whose window is still in state (within ${watermark} of the newest ingest_ts) updates the
--   total and a new row is emitted; one for a window already past the watermark is dropped (ingest stamps
--   ingest_ts with the server clock, so only a reaction stuck for longer than ${watermark} can be that late).
-- * Traffic stops: the last window's row is already out, with its complete count, at the end of the batch that
--   read its last reaction; the watermark only advances with new data, which matters for state clean-up, not for
--   what consumers see.
-- Swarm: 1 for 1..divisor reactions, floor(count / divisor) above (3785 → 3, 1000 → 1, 1001 → 1, 2000 → 2).

SELECT
  match_id,
  win.start                                 AS window_start,
  win.end                                   AS window_end,
  emoji,
  n                                         AS count,
  GREATEST(1, n DIV ${divisor})             AS swarm,
  current_timestamp()                       AS emitted_at
FROM (
  SELECT match_id, emoji, window(${event_time}, '${window}') AS win, count(*) AS n
  FROM ${source}
  GROUP BY match_id, emoji, window(${event_time}, '${window}')
)
