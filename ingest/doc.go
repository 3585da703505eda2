// Package ingest owns what comes into Sunlight: the RTSP sessions that pull
// each window's camera (reconnect, transport fallback, stream health) and
// the queue and case events from the hall's systems (decoding, per-type
// validation).
package ingest
