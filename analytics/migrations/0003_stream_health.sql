-- Camera stream health: one row per camera per health interval (ingest's
-- CameraHealth, plus the hall and the number of viewers). Written by
-- Store.InsertStreamHealth (usually through a HealthWriter), read by
-- Store.LatestStreamHealth.
-- ts is the end of the interval in UTC, whole seconds. fps and jitter_ms are
-- Float32: ample for a rate and a jitter in ms. keyframe_too_long is 0 or 1.
-- Partitioned by month; ordered from low to high cardinality.
-- `window` is quoted because WINDOW is a clause keyword on current releases;
-- quote it in queries too.
CREATE TABLE IF NOT EXISTS stream_health
(
    ts                   DateTime('UTC'),
    hall                 String,
    `window`             String,
    state                String,
    bitrate_bps          Float64,
    fps                  Float32,
    keyframe_interval_ms UInt32,
    lost                 UInt64,
    reordered            UInt64,
    jitter_ms            Float32,
    reconnects           UInt32,
    keyframe_too_long    UInt8,
    viewers              UInt16
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (hall, `window`, ts);
