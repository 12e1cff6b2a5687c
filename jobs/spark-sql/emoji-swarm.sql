-- emoji-swarm: reactions per (match, emoji, window) and their swarm size. Contract and rationale: emoji-swarm.yml.
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
