package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/console"
	"github.com/sunlight-gov/sunlight/ingest"
	"github.com/sunlight-gov/sunlight/internal/nodekey"
)

// serve assembles the platform: the composition root is the only place that
// knows every package.
func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (required)")
	cfg, err := parseWithConfig(fs, args, configPath)
	if err != nil {
		return err
	}
	log := newLogger(stderr)
	// SIGHUP reloads the TLS certificate (a renewal: certbot's deploy
	// hook, say); it does nothing else, and nothing without TLS. Caught
	// from the start, so that an early one does not end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if os.Getenv("GOGC") == "" {
		// The intake allocates per event and keeps little: collecting at
		// 200% rather than 100% growth cut the server's CPU per event by
		// about a tenth in make bench. GOGC overrides it.
		debug.SetGCPercent(200)
	}

	addrs := cfg.ClickHouse.Addr
	if len(addrs) == 0 {
		ch := &analytics.ManagedServer{
			Binary:   cfg.ClickHouse.Managed.Binary,
			Dir:      filepath.Join(cfg.DataDir, "clickhouse"),
			TCPPort:  cfg.ClickHouse.Managed.TCPPort,
			HTTPPort: cfg.ClickHouse.Managed.HTTPPort,
			Logger:   log,
		}
		if n := cfg.ClickHouse.Managed.Nice; n != nil {
			ch.Niceness = *n
			if *n == 0 {
				ch.Niceness = -1 // ManagedServer's "Sunlight's priority"
			}
		}
		if err := ch.Start(ctx); err != nil {
			return fmt.Errorf("managed clickhouse: %w", err)
		}
		defer ch.Close()
		addrs = []string{ch.Addr()}
	}
	nodeKey, err := nodekey.LoadOrCreate(nodekey.Path(cfg.DataDir))
	if err != nil {
		return err
	}
	store, err := analytics.OpenStore(ctx, analytics.StoreConfig{
		Addr: addrs, Database: cfg.ClickHouse.Database,
		Username: cfg.ClickHouse.Username, Password: cfg.ClickHouse.Password, Logger: log,
		AuditKey: nodeKey, Cluster: cfg.ClickHouse.Cluster,
	})
	if err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	defer store.Close()
	// Closed after everything that writes audit rows: its last
	// checkpoint anchors them.
	anchor := &analytics.AuditAnchor{Store: store, Logger: log, Interval: time.Duration(cfg.Audit.CheckpointSeconds) * time.Second}
	if err := anchor.Initialize(); err != nil {
		return err
	}
	defer anchor.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	sup, err := startSupervision(ctx, cfg, store, reg, log)
	if err != nil {
		return err
	}
	defer sup.close()
	srv := &console.Server{Config: cfg, Store: store, NodeKey: nodeKey, Logger: log, Registry: reg, Intake: sup.intake,
		Supervision: sup.engine, MaxEventBody: int64(cfg.Intake.MaxBodyKB) << 10,
		ClipPadding: time.Duration(cfg.Recording.ClipPaddingSeconds) * time.Second}
	health := &analytics.HealthWriter{Store: store, Logger: log}
	if err := health.Initialize(); err != nil {
		return err
	}
	defer health.Close()
	catalog := cfg.Catalog()
	lv, err := startLive(cfg, reg, log, srv.LiveSessionEnded, func(h ingest.CameraHealth, viewers int) {
		hall, _ := catalog.WindowHall(h.Window)
		health.Add(analytics.StreamHealthFromCamera(hall, h, viewers))
		sup.cameraHealth(h)
	})
	if err != nil {
		return err
	}
	defer lv.close()
	rec, err := startRecording(ctx, cfg, lv.streams, store, log, sup.diskFull)
	if err != nil {
		return err
	}
	defer rec.close()
	srv.Live, srv.Cameras = lv.webrtc, lv
	if err := srv.Initialize(); err != nil {
		return err
	}
	defer srv.Close()
	sup.setPublisher(srv)
	log.Info("sunlight is ready", "url", srv.URL())
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down")
			return nil
		case <-hup:
			if cfg.TLS.Enabled() {
				_ = srv.ReloadTLS() // logged; the certificate in use stays
			} else {
				log.Info("SIGHUP: nothing to reload (no tls in the config)")
			}
		}
	}
}
