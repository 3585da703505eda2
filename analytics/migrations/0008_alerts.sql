-- Supervision alerts (analytics/supervision) and their acknowledgements.
-- An alert is written once when it fires (Store.InsertAlerts); its id names
-- the condition, so a row written twice (a retry after a lost answer) is
-- read once: queries group by id. raised_at is UTC with whole seconds.
CREATE TABLE IF NOT EXISTS alerts
(
    id         String,
    kind       String,
    severity   String,
    hall       String,
    `window`   String,
    case_id    String,
    ticket     String,
    item       String,
    message    String,
    message_en String,
    raised_at  DateTime('UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(raised_at)
ORDER BY (raised_at, id);

-- An inspector's acknowledgement of an alert, with a comment (Store.AckAlert).
-- Acknowledging twice keeps both rows; the first one counts.
CREATE TABLE IF NOT EXISTS alert_acks
(
    alert_id String,
    acked_by String,
    comment  String,
    acked_at DateTime('UTC')
)
ENGINE = MergeTree
ORDER BY (alert_id, acked_at);
