// Package livebench owns the live-video load benchmark: N simulated
// cameras × M WHEP viewers on loopback, with every frame stamped with its
// send time in an H.264 SEI (simulator.CameraServer.StampSEI) so that each
// viewer reads its latency, and counts lost frames, on arrival.
//
// Three processes share the machine, so that the server's CPU is measured
// apart from the load generator's:
//
//   - the cameras (simulator.CameraServer, RTSP), a child process;
//   - the server: ingest.CameraSet pulling the cameras over TCP into
//     streaming.Streams, a streaming.WebRTCServer, and a minimal loopback
//     WHEP endpoint (POST offer → 201 answer, DELETE). The console's own
//     endpoint adds routing and auth around the same NewSession and
//     CloseSession calls: the media path is the same. This is the process
//     that calls Run;
//   - the viewers (whepclient peers, M per camera), a child process that reports
//     per viewer the time from its POST to its first complete IDR, the
//     latency of every frame (arrival − SEI send time, both from the same
//     clock) and the frames missing from the SEI frame counter.
//
// Both children are the calling binary run again (Config.Child) with an
// environment variable that RunChild recognises; a test binary calls
// RunChild from TestMain. BenchmarkLive (make bench) and TestLiveSmoke
// (make test) live in this package's tests.
package livebench
