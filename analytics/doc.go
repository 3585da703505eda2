// Package analytics owns Sunlight's ClickHouse side: the managed local
// clickhouse-server child process, the connection and schema migrations,
// event, audit and camera stream health storage (with HealthWriter, the
// batching writer for health reports), and (later) KPI queries and
// supervision rules.
package analytics
