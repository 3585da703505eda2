package ingest

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// CameraMetrics exports cameras' health to Prometheus, labelled by window.
// Feed it with Observe from each camera's OnHealth (CameraSet does).
type CameraMetrics struct {
	up        *prometheus.GaugeVec
	bitrate   *prometheus.GaugeVec
	fps       *prometheus.GaugeVec
	keyframe  *prometheus.GaugeVec
	jitter    *prometheus.GaugeVec
	lost      *prometheus.CounterVec
	reordered *prometheus.CounterVec
	reconnect *prometheus.CounterVec
}

// NewCameraMetrics creates the camera metrics and registers them on reg.
func NewCameraMetrics(reg prometheus.Registerer) (*CameraMetrics, error) {
	gauge := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{"window"})
	}
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"window"})
	}
	m := &CameraMetrics{
		up:        gauge("sunlight_camera_up", "1 while the window's camera is playing, else 0."),
		bitrate:   gauge("sunlight_camera_bitrate_bps", "RTP payload bits per second over the last health interval."),
		fps:       gauge("sunlight_camera_fps", "Video frames per second over the last health interval."),
		keyframe:  gauge("sunlight_camera_keyframe_interval_seconds", "Last observed time between two keyframes; above 2 s it slows viewers' start."),
		jitter:    gauge("sunlight_camera_jitter_seconds", "RFC 3550 interarrival jitter of the video."),
		lost:      counter("sunlight_camera_rtp_lost_total", "RTP packets lost."),
		reordered: counter("sunlight_camera_rtp_reordered_total", "Video RTP packets received out of order."),
		reconnect: counter("sunlight_camera_reconnects_total", "Sessions that came up again after a drop."),
	}
	for _, c := range []prometheus.Collector{m.up, m.bitrate, m.fps, m.keyframe, m.jitter, m.lost, m.reordered, m.reconnect} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("camera metrics: %w", err)
		}
	}
	return m, nil
}

// Observe updates a window's metrics from a health snapshot.
func (m *CameraMetrics) Observe(h CameraHealth) {
	w := h.Window
	up := 0.0
	if h.State == CameraOnline {
		up = 1
	}
	m.up.WithLabelValues(w).Set(up)
	m.bitrate.WithLabelValues(w).Set(h.BitrateBps)
	m.fps.WithLabelValues(w).Set(h.FPS)
	m.keyframe.WithLabelValues(w).Set(h.KeyframeInterval.Seconds())
	m.jitter.WithLabelValues(w).Set(h.JitterMs / 1000)
	m.lost.WithLabelValues(w).Add(float64(h.Lost))
	m.reordered.WithLabelValues(w).Add(float64(h.Reordered))
	m.reconnect.WithLabelValues(w).Add(float64(h.Reconnects))
}

// Forget drops a window's series, for a camera that was removed.
func (m *CameraMetrics) Forget(window string) {
	for _, v := range []*prometheus.MetricVec{
		m.up.MetricVec, m.bitrate.MetricVec, m.fps.MetricVec, m.keyframe.MetricVec, m.jitter.MetricVec,
		m.lost.MetricVec, m.reordered.MetricVec, m.reconnect.MetricVec,
	} {
		v.DeleteLabelValues(window)
	}
}
