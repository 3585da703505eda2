-- Fewer rollups fed on every insert (issue 15). Each materialized view
-- groups the whole inserted block, whatever the size of its result: a
-- batch's ratings were grouped four times, its completed cases four times.
-- The daily hall-level rollups of ratings, completions and spans hold
-- plain sums, which a KPI query adds up as fast from the daily window-level
-- rollups at query time (KPIQuery's plan picks the rollup with the fewest
-- dimensions it has; the window-level ones now serve the hall and tier
-- levels of whole days too, exactly). Kept: the hall-level visit rollups,
-- whose quantile states are what a query merges (merging a hall's
-- windows' states instead made the hall level over 13 months 6 times
-- slower: make bench, 1.7M visits, p50 99 -> 630 ms), and the hourly
-- hall-level rollups, which an hour x weekday query reads for a whole
-- quarter (from the hourly rollups by window and item it took 49 -> 70 ms).
--
-- Each view first, then its table (with the view gone nothing writes to
-- it); every statement is safe to run again.

DROP TABLE IF EXISTS ratings_hall_daily_mv;
DROP TABLE IF EXISTS ratings_hall_daily;
DROP TABLE IF EXISTS completions_hall_daily_mv;
DROP TABLE IF EXISTS completions_hall_daily;
DROP TABLE IF EXISTS spans_hall_daily_mv;
DROP TABLE IF EXISTS spans_hall_daily;
