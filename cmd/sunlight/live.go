package main

import (
	"fmt"
	"log/slog"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sunlight-gov/sunlight/console"
	"github.com/sunlight-gov/sunlight/ingest"
	"github.com/sunlight-gov/sunlight/internal/config"
	"github.com/sunlight-gov/sunlight/internal/media"
	"github.com/sunlight-gov/sunlight/streaming"
)

// live is the live-video half of the platform: one camera session and one
// fan-out stream per window, and the WHEP server that relays them.
type live struct {
	streams *streaming.Registry
	cameras *ingest.CameraSet
	webrtc  *streaming.WebRTCServer
}

// startLive pulls every window's camera and serves WHEP. onSessionEnd is
// told when a viewer's session ends (for the audit log); onHealth gets each
// camera's periodic health report with the window's viewer count.
func startLive(cfg *config.Config, reg *prometheus.Registry, log *slog.Logger,
	onSessionEnd func(id, window, reason string), onHealth func(h ingest.CameraHealth, viewers int)) (*live, error) {
	l := &live{streams: &streaming.Registry{}}
	var specs []ingest.CameraSpec
	for _, ref := range cfg.Windows() {
		w := ref.Window
		l.streams.Add(streaming.NewStream(w.ID, media.Track{Codec: media.H264, ClockRate: media.ClockRate}, log))
		specs = append(specs, ingest.CameraSpec{ID: w.ID, URL: w.Camera, Transport: w.Transport})
	}
	metrics, err := ingest.NewCameraMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("camera metrics: %w", err)
	}
	l.cameras = &ingest.CameraSet{
		Cameras: specs,
		Sink: func(id string) ingest.VideoSink {
			s, _ := l.streams.Stream(id)
			return s
		},
		AudioSink: func(id string) ingest.AudioSink {
			s, _ := l.streams.Stream(id)
			return s
		},
		Metrics: metrics,
		OnHealth: func(h ingest.CameraHealth) {
			if onHealth != nil {
				onHealth(h, l.webrtc.Viewers(h.Window))
			}
		},
		Logger: log,
	}
	var ice []webrtc.ICEServer
	for _, s := range cfg.WebRTC.ICEServers {
		ice = append(ice, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	l.webrtc = &streaming.WebRTCServer{
		UDPPort:             cfg.WebRTC.UDPPort,
		PublicIPs:           cfg.WebRTC.PublicIPs,
		Interfaces:          cfg.WebRTC.Interfaces,
		ICEServers:          ice,
		MaxViewersPerStream: cfg.WebRTC.MaxViewersPerWindow,
		Streams:             l.streams,
		Online:              l.online,
		OnSessionEnd:        onSessionEnd,
		Logger:              log,
	}
	if err := l.cameras.Initialize(); err != nil {
		l.close()
		return nil, fmt.Errorf("cameras: %w", err)
	}
	if err := l.webrtc.Initialize(); err != nil {
		l.close()
		return nil, fmt.Errorf("webrtc (config key webrtc.udp_port %d): %w", cfg.WebRTC.UDPPort, err)
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sunlight_live_viewers", Help: "Live (WHEP) sessions open, all windows.",
	}, func() float64 { return float64(len(l.webrtc.Sessions())) }))
	for _, m := range []struct {
		name, help string
		of         func(streaming.Repair) uint64
	}{
		{"sunlight_live_nacks_total", "NACKs received from live viewers.", func(r streaming.Repair) uint64 { return r.NACKs }},
		{"sunlight_live_nacked_packets_total", "Packets live viewers asked to be resent.", func(r streaming.Repair) uint64 { return r.NACKedPackets }},
		{"sunlight_live_retransmitted_packets_total", "Packets resent to live viewers after a NACK.", func(r streaming.Repair) uint64 { return r.Retransmitted }},
		{"sunlight_live_unrepaired_packets_total", "Packets asked for but no longer in the resend history.", func(r streaming.Repair) uint64 { return r.Unrepaired }},
	} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: m.name, Help: m.help},
			func() float64 { return float64(m.of(l.webrtc.RepairTotals())) }))
	}
	return l, nil
}

// online tells the WHEP server why a window cannot be watched right now.
func (l *live) online(window string) (string, bool) {
	st, ok := l.cameras.State(window)
	switch {
	case !ok:
		return "no camera is configured", false
	case st.State == ingest.CameraOnline:
		return "", true
	case st.LastError != "":
		return st.LastError, false
	}
	return st.State, false
}

// CameraStatus reports a window's camera for the console's windows view.
func (l *live) CameraStatus(window string) (console.CameraStatus, bool) {
	st, ok := l.cameras.State(window)
	if !ok {
		return console.CameraStatus{}, false
	}
	return console.CameraStatus{
		State: st.State, Since: st.Since, LastError: st.LastError, Codec: st.Codec,
		Width: st.Width, Height: st.Height, Transport: st.Transport, Reconnects: st.Reconnects,
		Viewers: l.webrtc.Viewers(window),
	}, true
}

func (l *live) close() {
	if l.webrtc != nil {
		l.webrtc.Close()
	}
	if l.cameras != nil {
		l.cameras.Close()
	}
	for _, s := range l.streams.All() {
		s.Close()
	}
}
