-- Fact rows of the hall's queue and cases (analytics/tracker's Visit, Span,
-- CaseState and Rating), written by Store.InsertFacts and read by Store.KPI
-- through the rollups of migration 0007. Times are UTC with whole seconds: no
-- KPI needs milliseconds, and durations were computed by the tracker. A zero
-- time (never called, not served, still open) is stored as 1970-01-01.
-- The raw tables are ordered by time first: the KPI queries read them only
-- for the sub-hour edges of a range (the rollups serve whole hours and days),
-- so what they need is a short time range of every hall.
-- `window`, `start` and `end` are quoted: WINDOW is a clause keyword on
-- current releases and END a keyword everywhere; quote them in queries too.

-- One row per closed visit (a ticket from issue to its end), attributed to
-- the time its ticket was issued. outcome is served | no_show | abandoned;
-- met_target is 0 or 1.
CREATE TABLE IF NOT EXISTS visits
(
    issued         DateTime('UTC'),
    tier           String,
    hall           String,
    department     String,
    `window`       String,
    item           String,
    staff          String,
    ticket         String,
    case_id        String,
    outcome        String,
    called         DateTime('UTC'),
    started        DateTime('UTC'),
    ended          DateTime('UTC'),
    calls          UInt16,
    wait_seconds   UInt32,
    handle_seconds UInt32,
    met_target     UInt8
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(issued)
ORDER BY (issued, hall, `window`, ticket);

-- Stretches of time a window was open for service, each within one UTC hour
-- (the tracker cuts them there), so that a span's seconds belong wholly to
-- the hour and the day of its start.
CREATE TABLE IF NOT EXISTS window_spans
(
    `start`    DateTime('UTC'),
    `end`      DateTime('UTC'),
    tier       String,
    hall       String,
    department String,
    `window`   String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(`start`)
ORDER BY (`start`, hall, `window`);

-- Case states: one row per state change; ReplacingMergeTree keeps the row of
-- the highest version (event time in ms) per case_id, so read it with FINAL
-- or argMax. Not partitioned: the rows of one case must meet in one partition
-- to be replaced. state is accepted | completed | rejected; on_time is 0 or 1.
-- Store.InsertFacts writes a case's completed row only once (the first), so
-- that the completion rollups of migration 0007, fed by materialized views
-- on this table, count each case once even when its completion is re-sent.
CREATE TABLE IF NOT EXISTS cases
(
    case_id    String,
    tier       String,
    hall       String,
    department String,
    `window`   String,
    item       String,
    state      String,
    accepted   DateTime('UTC'),
    deadline   DateTime('UTC'),
    completed  DateTime('UTC'),
    on_time    UInt8,
    version    UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY case_id;

-- Completed cases by completion time, one row per case (see cases): the raw
-- rows behind the completion rollups, read for the sub-hour edges of a range.
CREATE TABLE IF NOT EXISTS completions
(
    completed  DateTime('UTC'),
    tier       String,
    hall       String,
    department String,
    `window`   String,
    item       String,
    case_id    String,
    on_time    UInt8
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(completed)
ORDER BY (completed, hall, case_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS completions_mv TO completions AS
SELECT completed, tier, hall, department, `window`, item, case_id, on_time
FROM cases
WHERE state = 'completed';

-- 好差评 ratings, 1 (very dissatisfied) to 5 (very satisfied), one row per
-- rating event, attributed to the rating's time.
CREATE TABLE IF NOT EXISTS ratings
(
    ts         DateTime('UTC'),
    tier       String,
    hall       String,
    department String,
    `window`   String,
    item       String,
    staff      String,
    ticket     String,
    case_id    String,
    event_id   String,
    rating     UInt8
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (ts, hall, event_id);
