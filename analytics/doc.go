// Package analytics owns Sunlight's ClickHouse side: the managed local
// clickhouse-server child process, the connection and schema migrations
// (migrations/*.sql), the stores of events, facts (visits, window spans,
// cases, ratings, data-quality signals), alerts, audit, camera stream
// health and recording segments, the EventWriter that drains the intake's
// spool into them, the KPI queries over the facts and their rollups
// (kpi.go, kpi_plan.go), and the data-quality table of the queue systems'
// streams (quality.go).
// The tracker subpackage turns events into facts; the supervision
// subpackage raises alerts as events arrive.
package analytics
