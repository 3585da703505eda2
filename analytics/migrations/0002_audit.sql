-- Who did what, when: logins, clip views, configuration changes. Written by
-- Store.WriteAudit, read by Store.ListAudit.
CREATE TABLE IF NOT EXISTS audit_log
(
    ts      DateTime('UTC'),
    ts_ms   UInt16,
    actor   String,
    role    String,
    action  String,
    target  String,
    detail  String,
    client  String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (action, ts);
