// Package ingestbench owns the end-to-end benchmark of the event intake:
// the real server (bin/sunlight serve, a child process with its managed
// ClickHouse) is fed realistic events over HTTP (POST /api/v1/events, as a
// hall's queue system would) and the events are counted where they end
// up, in ClickHouse.
//
// It is written against the interface contract only (CONTRACT.md: the
// events endpoint, its X-API-Key header, 202 with per-event results, the
// events table in the "sunlight" database), not against the intake's
// internals, so that it measures the intake however it is built:
// synchronous inserts today, a durable spool drained by a writer later.
//
// The pieces:
//
//   - HallConfig writes a configuration with many halls and windows
//     (cameras pointing at a closed local port: no video is involved);
//   - Server starts bin/sunlight serve on it and stops it (SIGTERM, then
//     SIGKILL), and reads its CPU time and its ClickHouse's;
//   - NewWorkload pre-generates events (simulator.Timeline over past
//     days, so every event is valid and every id unique) and pre-encodes
//     them into request bodies;
//   - Client posts a body and checks that every event was accepted;
//     ClosedLoop (C clients, as fast as they are answered) and OpenLoop
//     (sent on schedule whatever the answers, latency from the scheduled
//     send time, so a slow server cannot hide its queueing) drive it;
//   - Counter counts the events that arrived in ClickHouse.
//
// BenchmarkIngestThroughput and BenchmarkIngestAckLatency (make bench) and
// TestIngestSmoke (make test) are in this package's tests; they share one
// server per test binary.
package ingestbench
