-- The index of recorded video segments (streaming's SegmentInfo, plus the
-- hall): one row per segment file. Written by Store.UpsertSegments, read by
-- Store.SegmentsBetween and Store.AllSegments, pruned by
-- Store.DeleteSegments.
-- A segment is indexed more than once (when it opens, when it closes, when
-- the index is rebuilt from disk): ReplacingMergeTree keeps the row with the
-- highest version per (`window`, path), and every query reads with FINAL,
-- since replacing happens only at merge time. version is set by the store
-- (nanoseconds, strictly increasing within a process); indexed_at is the
-- same moment in whole seconds, for people.
-- start and end are UTC with whole seconds, start_ms and end_ms carry the
-- milliseconds (no DateTime64 on ClickHouse 18.16). gap_before and closed
-- are 0 or 1.
-- Not partitioned: a partition key on start would leave two versions of a
-- segment whose start changed in two partitions, which FINAL does not merge.
-- `window`, `start` and `end` are quoted: WINDOW is a clause keyword on
-- current releases and END a keyword everywhere; quote them in queries too.
CREATE TABLE IF NOT EXISTS recording_segments
(
    `window`   String,
    hall       String,
    path       String,
    seq        UInt64,
    stream_id  String,
    `start`    DateTime('UTC'),
    start_ms   UInt16,
    `end`      DateTime('UTC'),
    end_ms     UInt16,
    start_dts  Int64,
    end_dts    Int64,
    frames     UInt32,
    bytes      UInt64,
    gap_before UInt8,
    codec      String,
    width      UInt16,
    height     UInt16,
    closed     UInt8,
    indexed_at DateTime('UTC'),
    version    UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (`window`, path);
