-- Legal holds on cases: a held case's recordings must not be deleted by
-- retention. One row per case holding its latest hold (ReplacingMergeTree
-- keeps the highest version per case_id; queries read with FINAL): placing
-- a hold writes it with released_at = 0 (1970-01-01, "not released"),
-- releasing it writes the same hold again with released_by and released_at
-- set. Earlier holds of a case are replaced; the audit log keeps the
-- history. Written by Store.PlaceHold and Store.ReleaseHold, read by
-- Store.ActiveHolds and Store.HoldOf.
-- Times are UTC with whole seconds. version is set by the store
-- (nanoseconds, strictly increasing within a process).
CREATE TABLE IF NOT EXISTS legal_holds
(
    case_id     String,
    placed_by   String,
    reason      String,
    placed_at   DateTime('UTC'),
    released_by String,
    released_at DateTime('UTC'),
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY case_id;
