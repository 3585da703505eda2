-- Data-quality signals of the queue systems' streams (analytics/tracker's
-- Quality facts): how many events per hour, hall and window showed that a
-- partner event is missing (a service end without its start, a call
-- without its ticket, a case completed without its acceptance) or came out
-- of order. Written by Store.InsertFacts with the other facts, once per
-- event (the event writer applies each event once), and read by
-- Store.Quality, which adds the late events from the events table
-- (received_at well after ts). Few rows: no rollup.
CREATE TABLE IF NOT EXISTS data_quality
(
    bucket   DateTime('UTC'),
    hall     String,
    `window` String,
    kind     String,
    events   UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, hall, `window`, kind)
