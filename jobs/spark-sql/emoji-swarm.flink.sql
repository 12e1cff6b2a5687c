-- emoji-swarm on Flink: the same rows as emoji-swarm.sql, in Flink SQL. Contract and rationale: emoji-swarm.yml.
-- The group-window syntax (TUMBLE in GROUP BY) is the one Flink emits early updates for, every trigger; integer
-- `/` is integer division here (Spark's DIV).
SELECT
  match_id,
  TUMBLE_START(${event_time}, ${window})    AS window_start,
  TUMBLE_END(${event_time}, ${window})      AS window_end,
  emoji,
  COUNT(*)                                  AS `count`,
  GREATEST(1, COUNT(*) / ${divisor})        AS swarm,
  LOCALTIMESTAMP                            AS emitted_at
FROM ${source}
GROUP BY match_id, emoji, TUMBLE(${event_time}, ${window})
