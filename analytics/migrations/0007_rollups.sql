-- Rollups of the fact tables of migration 0006, filled by materialized views
-- as facts are inserted, read by Store.KPI (see kpi_plan.go).
-- Why these: on ClickHouse 18.16 reading and merging one quantile state costs
-- about a microsecond, and a window serves only a few visits an hour, so a
-- per-minute (or per-hour with every dimension) rollup has nearly as many
-- rows as there are visits. Dashboards need coarse rows instead: each fact
-- kind is rolled up per hour with every dimension (item and staff levels,
-- and the edges of day-aligned ranges), per UTC day per window (window,
-- department and hall levels over weeks and months), and per hour and per
-- day per hall (hall and tier levels, hour of day × weekday). Visits, whose
-- quantile states are what costs, also have per-hour and per-7-day window
-- rollups and per-UTC-month window and hall rollups: a quantile state holds
-- at most one entry per distinct second, so merging daily states over many
-- days costs about one entry per visit plus a microsecond per state, and
-- coarser states cost far less (a hall's year: 13 states of a few thousand
-- entries). Weeks are Unix time / 604800 (they start on Thursdays, 00:00
-- UTC), since the planner tiles ranges with fixed-length buckets. Store.KPI
-- reads, for each part of the range, the coarsest rollup that has the
-- dimensions the query needs, and the raw facts for the sub-hour edges, so
-- every range is exact to the second.
-- Buckets are UTC hours, days and months (toStartOfHour, toStartOfDay,
-- toStartOfMonth as a DateTime). Counters
-- of visits are sum states and their distributions states of
-- quantilesExactWeighted(0.5, 0.9) (exact; integer seconds have few distinct
-- values, so the states stay small): wait over called visits (served and
-- no-shows), handling over served ones. Window spans, completions and
-- ratings only count and sum, so their rollups are SummingMergeTree.
-- Completions come from cases rows in state completed, which
-- Store.InsertFacts writes once per case.
-- Partitioned by month of the bucket. Hourly rollups are ordered by bucket
-- first: they serve the short edges of ranges. Daily and coarser ones are
-- ordered by their dimensions first, so that the rows of one group are read
-- together and merged into a hash table that is in cache (in bucket order
-- a 30-day window-level query merged 2-3 times slower on 18.16); a month
-- partition of them is small enough to read whole.

-- visits per hour per tier, hall, department, window, item, staff.
CREATE TABLE IF NOT EXISTS visits_hourly
(
    bucket           DateTime('UTC'),
    tier             String,
    hall             String,
    department       String,
    `window`         String,
    item             String,
    staff            String,
    tickets          AggregateFunction(sum, UInt64),
    called           AggregateFunction(sum, UInt64),
    served           AggregateFunction(sum, UInt64),
    no_shows         AggregateFunction(sum, UInt64),
    abandoned        AggregateFunction(sum, UInt64),
    met_target       AggregateFunction(sum, UInt64),
    serving_seconds  AggregateFunction(sum, UInt64),
    wait_q           AggregateFunction(quantilesExactWeighted(0.5, 0.9), UInt32, UInt64),
    handle_q         AggregateFunction(quantilesExactWeighted(0.5, 0.9), UInt32, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, tier, hall, department, `window`, item, staff);

CREATE MATERIALIZED VIEW IF NOT EXISTS visits_hourly_mv TO visits_hourly AS
SELECT toStartOfHour(issued) AS bucket,
       tier,
       hall,
       department,
       `window`,
       item,
       staff,
       sumState(toUInt64(1)) AS tickets,
       sumState(toUInt64(outcome != 'abandoned')) AS called,
       sumState(toUInt64(outcome = 'served')) AS served,
       sumState(toUInt64(outcome = 'no_show')) AS no_shows,
       sumState(toUInt64(outcome = 'abandoned')) AS abandoned,
       sumState(toUInt64(met_target = 1 AND outcome != 'abandoned')) AS met_target,
       sumState(toUInt64(if(outcome = 'served', handle_seconds, 0))) AS serving_seconds,
       quantilesExactWeightedStateIf(0.5, 0.9)(wait_seconds, toUInt64(1), outcome != 'abandoned') AS wait_q,
       quantilesExactWeightedStateIf(0.5, 0.9)(handle_seconds, toUInt64(1), outcome = 'served') AS handle_q
FROM visits
GROUP BY bucket, tier, hall, department, `window`, item, staff;

-- visits per hour per tier, hall, department, window.
CREATE TABLE IF NOT EXISTS visits_window_hourly
(
    bucket           DateTime('UTC'),
    tier             String,
    hall             String,
    department       String,
    `window`         String,
    tickets          AggregateFunction(sum, UInt64),
    called           AggregateFunction(sum, UInt64),
    served           AggregateFunction(sum, UInt64),
    no_shows         AggregateFunction(sum, UInt64),
    abandoned        AggregateFunction(sum, UInt64),
    met_target       AggregateFunction(sum, UInt64),
    serving_seconds  AggregateFunction(sum, UInt64),
    wait_q           AggregateFunction(quantilesExactWeighted(0.5, 0.9), UInt32, UInt64),
    handle_q         AggregateFunction(quantilesExactWeighted(0.5, 0.9), UInt32, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, tier, hall, department, `window`);

CREATE MATERIALIZED VIEW IF NOT EXISTS visits_window_hourly_mv TO visits_window_hourly AS
SELECT toStartOfHour(issued) AS bucket,
       tier,
       hall,
       department,
       `window`,
       sumState(toUInt64(1)) AS tickets,
       sumState(toUInt64(outcome != 'abandoned')) AS called,
       sumState(toUInt64(outcome = 'served')) AS served,
       sumState(toUInt64(outcome = 'no_show')) AS no_shows,
       sumState(toUInt64(outcome = 'abandoned')) AS abandoned,
       sumState(toUInt64(met_target = 1 AND outcome != 'abandoned')) AS met_target,
       sumState(toUInt64(if(outcome = 'served', handle_seconds, 0))) AS serving_seconds,
       quantilesExactWeightedStateIf(0.5, 0.9)(wait_seconds, toUInt64(1), outcome != 'abandoned') AS wait_q,
       quantilesExactWeightedStateIf(0.5, 0.9)(handle_seconds, toUInt64(1), outcome = 'served') AS handle_q
FROM visits
GROUP BY bucket, tier, hall, department, `window`;

-- visits per hour per tier, hall.
CREATE TABLE IF NOT EXISTS visits_hall_hourly
(
    bucket           DateTime('UTC'),
    tier             String,
    hall             String,
    tickets          AggregateFunction(sum, UInt64),
    called           AggregateFunction(sum, UInt64),
    served           AggregateFunction(sum, UInt64),
    no_shows         AggregateFunction(sum, UInt64),
    abandoned        AggregateFunction(sum, UInt64),
    met_target       AggregateFunction(sum, UInt64),
    serving_seconds  AggregateFunction(sum, UInt64),
    wait_q           AggregateFunction(quantilesExactWeighted(0.5, 0.9), UInt32, UInt64),
    handle_q         AggregateFunction(quantilesExactWeighted(0.5, 0.9), UInt32, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, tier, hall);

CREATE MATERIALIZED VIEW IF NOT EXISTS visits_hall_hourly_mv TO visits_hall_hourly AS
SELECT toStartOfHour(issued) AS bucket,
       tier,
       hall,
       sumState(toUInt64(1)) AS tickets,
       sumState(toUInt64(outcome != 'abandoned')) AS called,
       sumState(toUInt64(outcome = 'served')) AS served,
       sumState(toUInt64(outcome = 'no_show')) AS no_shows,
       sumState(toUInt64(outcome = 'abandoned')) AS abandoned,
       sumState(toUInt64(met_target = 1 AND outcome != 'abandoned')) AS met_target,
       sumState(toUInt64(if(outcome = 'served', handle_seconds, 0))) AS serving_seconds,
       quantilesExactWeightedStateIf(0.5, 0.9)(wait_seconds, toUInt64(1), outcome != 'abandoned') AS wait_q,
       quantilesExactWeightedStateIf(0.5, 0.9)(handle_seconds, toUInt64(1), outcome = 'served') AS handle_q
FROM visits
GROUP BY bucket, tier, hall;

-- visits per UTC day per tier, hall, department, window.
CREATE TABLE IF NOT EXISTS visits_window_daily
(
    bucket           DateTime('UTC'),
    tier             String,
    hall             String,
    department       String,
    `window`         String,
    tickets          AggregateFunction(sum, UInt64),
    called           AggregateFunction(sum, UInt64),
    served           AggregateFunction(sum, UInt64),
    no_shows         AggregateFunction(sum, UInt64),
    abandoned        AggregateFunction(sum, UInt64),
    met_target       AggregateFunction(sum, UInt64),
    serving_seconds  AggregateFunction(sum, UInt64),
    wait_q           AggregateFunction(quantilesExactWeighted(0.5, 0.9), UInt32, UInt64),
    handle_q         AggregateFunction(quantilesExactWeighted(0.5, 0.9), UInt32, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tier, hall, department, `window`, bucket);

CREATE MATERIALIZED VIEW IF NOT EXISTS visits_window_daily_mv TO visits_window_daily AS
SELECT toStartOfDay(issued) AS bucket,
       tier,
       hall,
       department,
       `window`,
       sumState(toUInt64(1)) AS tickets,
       sumState(toUInt64(outcome != 'abandoned')) AS called,
       sumState(toUInt64(outcome = 'served')) AS served,
       sumState(toUInt64(outcome = 'no_show')) AS no_shows,
       sumState(toUInt64(outcome = 'abandoned')) AS abandoned,
       sumState(toUInt64(met_target = 1 AND outcome != 'abandoned')) AS met_target,
       sumState(toUInt64(if(outcome = 'served', handle_seconds, 0))) AS serving_seconds,
       quantilesExactWeightedStateIf(0.5, 0.9)(wait_seconds, toUInt64(1), outcome != 'abandoned') AS wait_q,
       quantilesExactWeightedStateIf(0.5, 0.9)(handle_seconds, toUInt64(1), outcome = 'served') AS handle_q
FROM visits
GROUP BY bucket, tier, hall, department, `window`;

-- visits per UTC day per tier, hall.
CREATE TABLE IF NOT EXISTS visits_hall_daily
(
    bucket           DateTime('UTC'),
    tier             String,
    hall             String,
    tickets          AggregateFunction(sum, UInt64),
    called           AggregateFunction(sum, UInt64),
    served           AggregateFunction(sum, UInt64),
    no_shows         AggregateFunction(sum, UInt64),
    abandoned        AggregateFunction(sum, UInt64),
    met_target       AggregateFunction(sum, UInt64),
    serving_seconds  AggregateFunction(sum, UInt64),
    wait_q           AggregateFunction(quantilesExactWeighted(0.5, 0.9), UInt32, UInt64),
    handle_q         AggregateFunction(quantilesExactWeighted(0.5, 0.9), UInt32, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tier, hall, bucket);

CREATE MATERIALIZED VIEW IF NOT EXISTS visits_hall_daily_mv TO visits_hall_daily AS
SELECT toStartOfDay(issued) AS bucket,
       tier,
       hall,
       sumState(toUInt64(1)) AS tickets,
       sumState(toUInt64(outcome != 'abandoned')) AS called,
       sumState(toUInt64(outcome = 'served')) AS served,
       sumState(toUInt64(outcome = 'no_show')) AS no_shows,
       sumState(toUInt64(outcome = 'abandoned')) AS abandoned,
       sumState(toUInt64(met_target = 1 AND outcome != 'abandoned')) AS met_target,
       sumState(toUInt64(if(outcome = 'served', handle_seconds, 0))) AS serving_seconds,
       quantilesExactWeightedStateIf(0.5, 0.9)(wait_seconds, toUInt64(1), outcome != 'abandoned') AS wait_q,
       quantilesExactWeightedStateIf(0.5, 0.9)(handle_seconds, toUInt64(1), outcome = 'served') AS handle_q
FROM visits
GROUP BY bucket, tier, hall;

-- visits per 7 days from a Thursday (Unix time / 604800) per tier, hall, department, window.
CREATE TABLE IF NOT EXISTS visits_window_weekly
(
    bucket           DateTime('UTC'),
    tier             String,
    hall             String,
    department       String,
    `window`         String,
    tickets          AggregateFunction(sum, UInt64),
    called           AggregateFunction(sum, UInt64),
    served           AggregateFunction(sum, UInt64),
    no_shows         AggregateFunction(sum, UInt64),
    abandoned        AggregateFunction(sum, UInt64),
    met_target       AggregateFunction(sum, UInt64),
    serving_seconds  AggregateFunction(sum, UInt64),
    wait_q           AggregateFunction(quantilesExactWeighted(0.5, 0.9), UInt32, UInt64),
    handle_q         AggregateFunction(quantilesExactWeighted(0.5, 0.9), UInt32, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tier, hall, department, `window`, bucket);

CREATE MATERIALIZED VIEW IF NOT EXISTS visits_window_weekly_mv TO visits_window_weekly AS
SELECT toDateTime(intDiv(toUInt32(issued), 604800) * 604800, 'UTC') AS bucket,
       tier,
       hall,
       department,
       `window`,
       sumState(toUInt64(1)) AS tickets,
       sumState(toUInt64(outcome != 'abandoned')) AS called,
       sumState(toUInt64(outcome = 'served')) AS served,
       sumState(toUInt64(outcome = 'no_show')) AS no_shows,
       sumState(toUInt64(outcome = 'abandoned')) AS abandoned,
       sumState(toUInt64(met_target = 1 AND outcome != 'abandoned')) AS met_target,
       sumState(toUInt64(if(outcome = 'served', handle_seconds, 0))) AS serving_seconds,
       quantilesExactWeightedStateIf(0.5, 0.9)(wait_seconds, toUInt64(1), outcome != 'abandoned') AS wait_q,
       quantilesExactWeightedStateIf(0.5, 0.9)(handle_seconds, toUInt64(1), outcome = 'served') AS handle_q
FROM visits
GROUP BY bucket, tier, hall, department, `window`;

-- visits per UTC month per tier, hall, department, window.
CREATE TABLE IF NOT EXISTS visits_window_monthly
(
    bucket           DateTime('UTC'),
    tier             String,
    hall             String,
    department       String,
    `window`         String,
    tickets          AggregateFunction(sum, UInt64),
    called           AggregateFunction(sum, UInt64),
    served           AggregateFunction(sum, UInt64),
    no_shows         AggregateFunction(sum, UInt64),
    abandoned        AggregateFunction(sum, UInt64),
    met_target       AggregateFunction(sum, UInt64),
    serving_seconds  AggregateFunction(sum, UInt64),
    wait_q           AggregateFunction(quantilesExactWeighted(0.5, 0.9), UInt32, UInt64),
    handle_q         AggregateFunction(quantilesExactWeighted(0.5, 0.9), UInt32, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tier, hall, department, `window`, bucket);

CREATE MATERIALIZED VIEW IF NOT EXISTS visits_window_monthly_mv TO visits_window_monthly AS
SELECT toDateTime(toStartOfMonth(issued), 'UTC') AS bucket,
       tier,
       hall,
       department,
       `window`,
       sumState(toUInt64(1)) AS tickets,
       sumState(toUInt64(outcome != 'abandoned')) AS called,
       sumState(toUInt64(outcome = 'served')) AS served,
       sumState(toUInt64(outcome = 'no_show')) AS no_shows,
       sumState(toUInt64(outcome = 'abandoned')) AS abandoned,
       sumState(toUInt64(met_target = 1 AND outcome != 'abandoned')) AS met_target,
       sumState(toUInt64(if(outcome = 'served', handle_seconds, 0))) AS serving_seconds,
       quantilesExactWeightedStateIf(0.5, 0.9)(wait_seconds, toUInt64(1), outcome != 'abandoned') AS wait_q,
       quantilesExactWeightedStateIf(0.5, 0.9)(handle_seconds, toUInt64(1), outcome = 'served') AS handle_q
FROM visits
GROUP BY bucket, tier, hall, department, `window`;

-- visits per UTC month per tier, hall.
CREATE TABLE IF NOT EXISTS visits_hall_monthly
(
    bucket           DateTime('UTC'),
    tier             String,
    hall             String,
    tickets          AggregateFunction(sum, UInt64),
    called           AggregateFunction(sum, UInt64),
    served           AggregateFunction(sum, UInt64),
    no_shows         AggregateFunction(sum, UInt64),
    abandoned        AggregateFunction(sum, UInt64),
    met_target       AggregateFunction(sum, UInt64),
    serving_seconds  AggregateFunction(sum, UInt64),
    wait_q           AggregateFunction(quantilesExactWeighted(0.5, 0.9), UInt32, UInt64),
    handle_q         AggregateFunction(quantilesExactWeighted(0.5, 0.9), UInt32, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tier, hall, bucket);

CREATE MATERIALIZED VIEW IF NOT EXISTS visits_hall_monthly_mv TO visits_hall_monthly AS
SELECT toDateTime(toStartOfMonth(issued), 'UTC') AS bucket,
       tier,
       hall,
       sumState(toUInt64(1)) AS tickets,
       sumState(toUInt64(outcome != 'abandoned')) AS called,
       sumState(toUInt64(outcome = 'served')) AS served,
       sumState(toUInt64(outcome = 'no_show')) AS no_shows,
       sumState(toUInt64(outcome = 'abandoned')) AS abandoned,
       sumState(toUInt64(met_target = 1 AND outcome != 'abandoned')) AS met_target,
       sumState(toUInt64(if(outcome = 'served', handle_seconds, 0))) AS serving_seconds,
       quantilesExactWeightedStateIf(0.5, 0.9)(wait_seconds, toUInt64(1), outcome != 'abandoned') AS wait_q,
       quantilesExactWeightedStateIf(0.5, 0.9)(handle_seconds, toUInt64(1), outcome = 'served') AS handle_q
FROM visits
GROUP BY bucket, tier, hall;

-- window_spans per hour per tier, hall.
CREATE TABLE IF NOT EXISTS spans_hall_hourly
(
    bucket           DateTime('UTC'),
    tier             String,
    hall             String,
    open_seconds     UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, tier, hall);

CREATE MATERIALIZED VIEW IF NOT EXISTS spans_hall_hourly_mv TO spans_hall_hourly AS
SELECT toStartOfHour(`start`) AS bucket,
       tier,
       hall,
       sum(toUInt64(toUInt32(`end`) - toUInt32(`start`))) AS open_seconds
FROM window_spans
GROUP BY bucket, tier, hall;

-- window_spans per UTC day per tier, hall, department, window.
CREATE TABLE IF NOT EXISTS spans_window_daily
(
    bucket           DateTime('UTC'),
    tier             String,
    hall             String,
    department       String,
    `window`         String,
    open_seconds     UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tier, hall, department, `window`, bucket);

CREATE MATERIALIZED VIEW IF NOT EXISTS spans_window_daily_mv TO spans_window_daily AS
SELECT toStartOfDay(`start`) AS bucket,
       tier,
       hall,
       department,
       `window`,
       sum(toUInt64(toUInt32(`end`) - toUInt32(`start`))) AS open_seconds
FROM window_spans
GROUP BY bucket, tier, hall, department, `window`;

-- window_spans per UTC day per tier, hall.
CREATE TABLE IF NOT EXISTS spans_hall_daily
(
    bucket           DateTime('UTC'),
    tier             String,
    hall             String,
    open_seconds     UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tier, hall, bucket);

CREATE MATERIALIZED VIEW IF NOT EXISTS spans_hall_daily_mv TO spans_hall_daily AS
SELECT toStartOfDay(`start`) AS bucket,
       tier,
       hall,
       sum(toUInt64(toUInt32(`end`) - toUInt32(`start`))) AS open_seconds
FROM window_spans
GROUP BY bucket, tier, hall;

-- cases per hour per tier, hall, department, window, item.
CREATE TABLE IF NOT EXISTS completions_hourly
(
    bucket           DateTime('UTC'),
    tier             String,
    hall             String,
    department       String,
    `window`         String,
    item             String,
    completed_cases  UInt64,
    on_time_cases    UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, tier, hall, department, `window`, item);

CREATE MATERIALIZED VIEW IF NOT EXISTS completions_hourly_mv TO completions_hourly AS
SELECT toStartOfHour(completed) AS bucket,
       tier,
       hall,
       department,
       `window`,
       item,
       sum(toUInt64(1)) AS completed_cases,
       sum(toUInt64(on_time)) AS on_time_cases
FROM cases
WHERE state = 'completed'
GROUP BY bucket, tier, hall, department, `window`, item;

-- cases per hour per tier, hall.
CREATE TABLE IF NOT EXISTS completions_hall_hourly
(
    bucket           DateTime('UTC'),
    tier             String,
    hall             String,
    completed_cases  UInt64,
    on_time_cases    UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, tier, hall);

CREATE MATERIALIZED VIEW IF NOT EXISTS completions_hall_hourly_mv TO completions_hall_hourly AS
SELECT toStartOfHour(completed) AS bucket,
       tier,
       hall,
       sum(toUInt64(1)) AS completed_cases,
       sum(toUInt64(on_time)) AS on_time_cases
FROM cases
WHERE state = 'completed'
GROUP BY bucket, tier, hall;

-- cases per UTC day per tier, hall, department, window.
CREATE TABLE IF NOT EXISTS completions_window_daily
(
    bucket           DateTime('UTC'),
    tier             String,
    hall             String,
    department       String,
    `window`         String,
    completed_cases  UInt64,
    on_time_cases    UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tier, hall, department, `window`, bucket);

CREATE MATERIALIZED VIEW IF NOT EXISTS completions_window_daily_mv TO completions_window_daily AS
SELECT toStartOfDay(completed) AS bucket,
       tier,
       hall,
       department,
       `window`,
       sum(toUInt64(1)) AS completed_cases,
       sum(toUInt64(on_time)) AS on_time_cases
FROM cases
WHERE state = 'completed'
GROUP BY bucket, tier, hall, department, `window`;

-- cases per UTC day per tier, hall.
CREATE TABLE IF NOT EXISTS completions_hall_daily
(
    bucket           DateTime('UTC'),
    tier             String,
    hall             String,
    completed_cases  UInt64,
    on_time_cases    UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tier, hall, bucket);

CREATE MATERIALIZED VIEW IF NOT EXISTS completions_hall_daily_mv TO completions_hall_daily AS
SELECT toStartOfDay(completed) AS bucket,
       tier,
       hall,
       sum(toUInt64(1)) AS completed_cases,
       sum(toUInt64(on_time)) AS on_time_cases
FROM cases
WHERE state = 'completed'
GROUP BY bucket, tier, hall;

-- ratings per hour per tier, hall, department, window, item, staff.
CREATE TABLE IF NOT EXISTS ratings_hourly
(
    bucket           DateTime('UTC'),
    tier             String,
    hall             String,
    department       String,
    `window`         String,
    item             String,
    staff            String,
    ratings          UInt64,
    rating_sum       UInt64,
    rating_1         UInt64,
    rating_2         UInt64,
    rating_3         UInt64,
    rating_4         UInt64,
    rating_5         UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, tier, hall, department, `window`, item, staff);

CREATE MATERIALIZED VIEW IF NOT EXISTS ratings_hourly_mv TO ratings_hourly AS
SELECT toStartOfHour(ts) AS bucket,
       tier,
       hall,
       department,
       `window`,
       item,
       staff,
       sum(toUInt64(1)) AS ratings,
       sum(toUInt64(rating)) AS rating_sum,
       sum(toUInt64(rating = 1)) AS rating_1,
       sum(toUInt64(rating = 2)) AS rating_2,
       sum(toUInt64(rating = 3)) AS rating_3,
       sum(toUInt64(rating = 4)) AS rating_4,
       sum(toUInt64(rating = 5)) AS rating_5
FROM ratings
GROUP BY bucket, tier, hall, department, `window`, item, staff;

-- ratings per hour per tier, hall.
CREATE TABLE IF NOT EXISTS ratings_hall_hourly
(
    bucket           DateTime('UTC'),
    tier             String,
    hall             String,
    ratings          UInt64,
    rating_sum       UInt64,
    rating_1         UInt64,
    rating_2         UInt64,
    rating_3         UInt64,
    rating_4         UInt64,
    rating_5         UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, tier, hall);

CREATE MATERIALIZED VIEW IF NOT EXISTS ratings_hall_hourly_mv TO ratings_hall_hourly AS
SELECT toStartOfHour(ts) AS bucket,
       tier,
       hall,
       sum(toUInt64(1)) AS ratings,
       sum(toUInt64(rating)) AS rating_sum,
       sum(toUInt64(rating = 1)) AS rating_1,
       sum(toUInt64(rating = 2)) AS rating_2,
       sum(toUInt64(rating = 3)) AS rating_3,
       sum(toUInt64(rating = 4)) AS rating_4,
       sum(toUInt64(rating = 5)) AS rating_5
FROM ratings
GROUP BY bucket, tier, hall;

-- ratings per UTC day per tier, hall, department, window.
CREATE TABLE IF NOT EXISTS ratings_window_daily
(
    bucket           DateTime('UTC'),
    tier             String,
    hall             String,
    department       String,
    `window`         String,
    ratings          UInt64,
    rating_sum       UInt64,
    rating_1         UInt64,
    rating_2         UInt64,
    rating_3         UInt64,
    rating_4         UInt64,
    rating_5         UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tier, hall, department, `window`, bucket);

CREATE MATERIALIZED VIEW IF NOT EXISTS ratings_window_daily_mv TO ratings_window_daily AS
SELECT toStartOfDay(ts) AS bucket,
       tier,
       hall,
       department,
       `window`,
       sum(toUInt64(1)) AS ratings,
       sum(toUInt64(rating)) AS rating_sum,
       sum(toUInt64(rating = 1)) AS rating_1,
       sum(toUInt64(rating = 2)) AS rating_2,
       sum(toUInt64(rating = 3)) AS rating_3,
       sum(toUInt64(rating = 4)) AS rating_4,
       sum(toUInt64(rating = 5)) AS rating_5
FROM ratings
GROUP BY bucket, tier, hall, department, `window`;

-- ratings per UTC day per tier, hall.
CREATE TABLE IF NOT EXISTS ratings_hall_daily
(
    bucket           DateTime('UTC'),
    tier             String,
    hall             String,
    ratings          UInt64,
    rating_sum       UInt64,
    rating_1         UInt64,
    rating_2         UInt64,
    rating_3         UInt64,
    rating_4         UInt64,
    rating_5         UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tier, hall, bucket);

CREATE MATERIALIZED VIEW IF NOT EXISTS ratings_hall_daily_mv TO ratings_hall_daily AS
SELECT toStartOfDay(ts) AS bucket,
       tier,
       hall,
       sum(toUInt64(1)) AS ratings,
       sum(toUInt64(rating)) AS rating_sum,
       sum(toUInt64(rating = 1)) AS rating_1,
       sum(toUInt64(rating = 2)) AS rating_2,
       sum(toUInt64(rating = 3)) AS rating_3,
       sum(toUInt64(rating = 4)) AS rating_4,
       sum(toUInt64(rating = 5)) AS rating_5
FROM ratings
GROUP BY bucket, tier, hall;

