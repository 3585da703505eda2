-- KPIs that stay true when a queue system's stream is incomplete.
--
-- Open time inferred from service: a window that sent no window_opened is
-- taken as open while it serves (analytics/tracker's inferOpen); its spans
-- carry inferred = 1, and the span rollups count those seconds apart, so a
-- KPI row can say how much of its open time is inferred.
--
-- Completions whose time limit could not be counted: a case completed
-- without a known acceptance (or whose item has no limit in the catalog)
-- has no deadline (1970-01-01 in cases). The rollups count them apart
-- (unknown_cases), and the on-time rate leaves them out instead of calling
-- them late. Completions stored before this migration count as known: the
-- rollups' sums cannot be told apart afterwards.
--
-- Each materialized view is dropped and created again with the new column
-- (18.16 cannot alter a view's query). Migrations run before the event
-- writer starts, so no insert passes between the two; the view's data is in
-- its TO table, which stays. Every statement is safe to run again.

ALTER TABLE window_spans ADD COLUMN inferred UInt8 DEFAULT 0;

DROP TABLE IF EXISTS spans_hall_hourly_mv;
ALTER TABLE spans_hall_hourly ADD COLUMN inferred_seconds UInt64 DEFAULT 0;
CREATE MATERIALIZED VIEW IF NOT EXISTS spans_hall_hourly_mv TO spans_hall_hourly AS
SELECT toStartOfHour(`start`) AS bucket,
       tier,
       hall,
       sum(toUInt64(toUInt32(`end`) - toUInt32(`start`))) AS open_seconds,
       sum(if(inferred = 1, toUInt64(toUInt32(`end`) - toUInt32(`start`)), toUInt64(0))) AS inferred_seconds
FROM window_spans
GROUP BY bucket, tier, hall;

DROP TABLE IF EXISTS spans_window_daily_mv;
ALTER TABLE spans_window_daily ADD COLUMN inferred_seconds UInt64 DEFAULT 0;
CREATE MATERIALIZED VIEW IF NOT EXISTS spans_window_daily_mv TO spans_window_daily AS
SELECT toStartOfDay(`start`) AS bucket,
       tier,
       hall,
       department,
       `window`,
       sum(toUInt64(toUInt32(`end`) - toUInt32(`start`))) AS open_seconds,
       sum(if(inferred = 1, toUInt64(toUInt32(`end`) - toUInt32(`start`)), toUInt64(0))) AS inferred_seconds
FROM window_spans
GROUP BY bucket, tier, hall, department, `window`;

DROP TABLE IF EXISTS spans_hall_daily_mv;
ALTER TABLE spans_hall_daily ADD COLUMN inferred_seconds UInt64 DEFAULT 0;
CREATE MATERIALIZED VIEW IF NOT EXISTS spans_hall_daily_mv TO spans_hall_daily AS
SELECT toStartOfDay(`start`) AS bucket,
       tier,
       hall,
       sum(toUInt64(toUInt32(`end`) - toUInt32(`start`))) AS open_seconds,
       sum(if(inferred = 1, toUInt64(toUInt32(`end`) - toUInt32(`start`)), toUInt64(0))) AS inferred_seconds
FROM window_spans
GROUP BY bucket, tier, hall;

ALTER TABLE completions ADD COLUMN limit_unknown UInt8 DEFAULT 0;
DROP TABLE IF EXISTS completions_mv;
CREATE MATERIALIZED VIEW IF NOT EXISTS completions_mv TO completions AS
SELECT completed, tier, hall, department, `window`, item, case_id, on_time,
       toUInt8(toUInt32(deadline) = 0) AS limit_unknown
FROM cases
WHERE state = 'completed';

DROP TABLE IF EXISTS completions_hourly_mv;
ALTER TABLE completions_hourly ADD COLUMN unknown_cases UInt64 DEFAULT 0;
CREATE MATERIALIZED VIEW IF NOT EXISTS completions_hourly_mv TO completions_hourly AS
SELECT toStartOfHour(completed) AS bucket,
       tier,
       hall,
       department,
       `window`,
       item,
       sum(toUInt64(1)) AS completed_cases,
       sum(toUInt64(on_time)) AS on_time_cases,
       sum(toUInt64(toUInt32(deadline) = 0)) AS unknown_cases
FROM cases
WHERE state = 'completed'
GROUP BY bucket, tier, hall, department, `window`, item;

DROP TABLE IF EXISTS completions_hall_hourly_mv;
ALTER TABLE completions_hall_hourly ADD COLUMN unknown_cases UInt64 DEFAULT 0;
CREATE MATERIALIZED VIEW IF NOT EXISTS completions_hall_hourly_mv TO completions_hall_hourly AS
SELECT toStartOfHour(completed) AS bucket,
       tier,
       hall,
       sum(toUInt64(1)) AS completed_cases,
       sum(toUInt64(on_time)) AS on_time_cases,
       sum(toUInt64(toUInt32(deadline) = 0)) AS unknown_cases
FROM cases
WHERE state = 'completed'
GROUP BY bucket, tier, hall;

DROP TABLE IF EXISTS completions_window_daily_mv;
ALTER TABLE completions_window_daily ADD COLUMN unknown_cases UInt64 DEFAULT 0;
CREATE MATERIALIZED VIEW IF NOT EXISTS completions_window_daily_mv TO completions_window_daily AS
SELECT toStartOfDay(completed) AS bucket,
       tier,
       hall,
       department,
       `window`,
       sum(toUInt64(1)) AS completed_cases,
       sum(toUInt64(on_time)) AS on_time_cases,
       sum(toUInt64(toUInt32(deadline) = 0)) AS unknown_cases
FROM cases
WHERE state = 'completed'
GROUP BY bucket, tier, hall, department, `window`;

DROP TABLE IF EXISTS completions_hall_daily_mv;
ALTER TABLE completions_hall_daily ADD COLUMN unknown_cases UInt64 DEFAULT 0;
CREATE MATERIALIZED VIEW IF NOT EXISTS completions_hall_daily_mv TO completions_hall_daily AS
SELECT toStartOfDay(completed) AS bucket,
       tier,
       hall,
       sum(toUInt64(1)) AS completed_cases,
       sum(toUInt64(on_time)) AS on_time_cases,
       sum(toUInt64(toUInt32(deadline) = 0)) AS unknown_cases
FROM cases
WHERE state = 'completed'
GROUP BY bucket, tier, hall;
