// Package streaming owns what goes out as media: the fan-out Stream of each
// camera (one writer, many readers with bounded queues, a cache of the last
// GOP, RTP packetized once for every viewer) and live viewing over
// WebRTC/WHEP with pion (WebRTCServer, one session per viewer, all on one
// UDP port). The recorder (fMP4 segments) and clip assembly come later and
// will read Streams the same way.
//
// Data flows one way: ingest calls Stream.WriteVideo and WriteAudio; the
// console calls WebRTCServer.NewSession for a WHEP POST and CloseSession
// for the DELETE. Errors meant for the viewer are wrapped with the kinds of
// internal/apperr.
package streaming
