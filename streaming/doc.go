// Package streaming owns what goes out as media: the fan-out Stream of each
// camera (one writer, many readers with bounded queues, a cache of the last
// GOP, RTP packetized once for every viewer) and live viewing over
// WebRTC/WHEP with pion (WebRTCServer, one session per viewer, all on one
// UDP port); the Recorder, a reader of the same Streams, writing fMP4
// segments with their continuity metadata (record_*.go, retention), and
// clip assembly from those segments by time range (BuildClip in
// clip_build.go, the MP4 layout in clip_layout.go, the served Clip with
// Range reads in clip.go).
//
// Files are named after their job: stream.go the fan-out and its GOP cache,
// reader.go a reader's bounded queue, timeline.go continuous timestamps,
// webrtc.go and session.go the WHEP server and its viewers.
//
// Data flows one way: ingest calls Stream.WriteVideo and WriteAudio; the
// console calls WebRTCServer.NewSession for a WHEP POST and CloseSession
// for the DELETE; the recorder reads Streams as any viewer does. Errors meant for the viewer are wrapped with the kinds of
// internal/apperr.
package streaming
