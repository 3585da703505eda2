-- Raw queue and case events as accepted from the hall's systems, one row per
-- event id (Store.InsertEvents dedupes before inserting).
-- ts is the event time in UTC with whole seconds; ts_ms carries the
-- milliseconds, since DateTime64 does not exist on ClickHouse 18.16.
-- Partitioned by month; ordered from low to high cardinality, event id last.
-- `window` is quoted because WINDOW is a clause keyword on current releases;
-- quote it in queries too.
CREATE TABLE IF NOT EXISTS events
(
    event_id    String,
    type        String,
    ts          DateTime('UTC'),
    ts_ms       UInt16,
    hall        String,
    `window`    String,
    case_id     String,
    ticket      String,
    item        String,
    staff       String,
    rating      UInt8,
    received_at DateTime('UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (hall, `window`, ts, event_id);
