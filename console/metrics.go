package console

import (
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type serverMetrics struct {
	requests   *prometheus.HistogramVec
	events     *prometheus.CounterVec
	sseClients prometheus.Gauge
	// cspViolations counts the browsers' CSP violation reports.
	cspViolations *prometheus.CounterVec
	handler       gin.HandlerFunc
}

func newServerMetrics(reg *prometheus.Registry) *serverMetrics {
	m := &serverMetrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sunlight_http_request_seconds", Help: "HTTP requests by route and status.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}, []string{"method", "route", "status"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sunlight_events_total", Help: "Events received by outcome (accepted: durable in the spool; rejected: invalid).",
		}, []string{"outcome"}),
		sseClients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sunlight_alert_stream_clients", Help: "Consoles connected to the alert stream.",
		}),
		cspViolations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sunlight_csp_violations_total", Help: "Content-Security-Policy violations reported by browsers, by directive.",
		}, []string{"directive"}),
	}
	reg.MustRegister(m.requests, m.events, m.sseClients, m.cspViolations)
	m.handler = gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return m
}

func (m *serverMetrics) middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(c.Request.Method, route, strconv.Itoa(c.Writer.Status())).Observe(time.Since(start).Seconds())
	}
}

func (s *Server) handleMetrics(c *gin.Context) { s.metrics.handler(c) }
