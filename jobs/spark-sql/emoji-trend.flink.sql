-- emoji-trend on Flink: the same rows as emoji-trend.sql, in Flink SQL. Contract and rationale: emoji-trend.yml.
-- HOP window TVF counts per (match, emoji, window), their sum per (match, window) as a second window aggregation
-- on the first's window, a window join of the two, then Window Top-N: each step is a window operator, which emits a
-- window once, final, when the watermark passes its end (the append contract).
SELECT
  match_id,
  window_start,
  window_end,
  CAST(rownum AS INT)                    AS `rank`,
  emoji,
  n                                      AS `count`,
  total,
  CAST(n AS DOUBLE) / total              AS share,
  LOCALTIMESTAMP                         AS emitted_at
FROM (
  SELECT
    c.match_id, c.window_start, c.window_end, c.emoji, c.n, t.total,
    ROW_NUMBER() OVER (PARTITION BY c.match_id, c.window_start, c.window_end ORDER BY c.n DESC, c.emoji) AS rownum
  FROM (
    SELECT match_id, emoji, window_start, window_end, COUNT(*) AS n
    FROM TABLE(HOP(TABLE ${source}, DESCRIPTOR(${event_time}), ${slide}, ${window}))
    GROUP BY match_id, emoji, window_start, window_end
  ) c
  JOIN (
    SELECT match_id, window_start, window_end, COUNT(*) AS total
    FROM TABLE(HOP(TABLE ${source}, DESCRIPTOR(${event_time}), ${slide}, ${window}))
    GROUP BY match_id, window_start, window_end
  ) t
  ON c.match_id = t.match_id AND c.window_start = t.window_start AND c.window_end = t.window_end
)
WHERE rownum <= ${top}
