-- The audit log as a hash chain per node (see audit_chain.go for the
-- canonical row encoding): node is the writer's node ID (from its key),
-- seq numbers its rows from 1, prev_hash and hash are hex SHA-256, and a
-- checkpoint row (action audit_checkpoint) carries the node's Ed25519
-- signature of its own hash. Rows from before this migration keep seq 0
-- and empty hashes: audit verify counts them as unchained.
ALTER TABLE audit_log ADD COLUMN node String;
ALTER TABLE audit_log ADD COLUMN seq UInt64;
ALTER TABLE audit_log ADD COLUMN prev_hash String;
ALTER TABLE audit_log ADD COLUMN hash String;
ALTER TABLE audit_log ADD COLUMN signature String
