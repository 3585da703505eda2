// Package analytics owns Sunlight's ClickHouse side: the managed local
// clickhouse-server child process, the connection and schema migrations,
// event and audit storage, and (later) KPI queries and supervision rules.
package analytics
