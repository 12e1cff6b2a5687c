-- emoji-trend: the top emojis per match over a sliding window, with their share. Contract: emoji-trend.yml.
SELECT
  match_id,
  window_start,
  window_end,
  pos + 1                  AS rank,
  top.emoji                AS emoji,
  top.n                    AS count,
  total,
  top.n / total            AS share,
  current_timestamp()      AS emitted_at
FROM (
  SELECT
    match_id,
    min(win.start)         AS window_start,
    max(win.end)           AS window_end,
    sum(n)                 AS total,
    slice(array_sort(collect_list(named_struct('neg', -n, 'emoji', emoji, 'n', n))), 1, ${top}) AS tops
  FROM (
    SELECT match_id, emoji, window(${event_time}, '${window}', '${slide}') AS win, count(*) AS n
    FROM ${source}
    GROUP BY match_id, emoji, window(${event_time}, '${window}', '${slide}')
  )
  GROUP BY match_id, window(window_time(win), '${slide}')
)
LATERAL VIEW posexplode(tops) ranked AS pos, top
