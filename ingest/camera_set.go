package ingest

import (
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// CameraSpec configures one window's camera in a CameraSet.
type CameraSpec struct {
	ID        string // window id
	URL       string // rtsp:// or rtsps://
	Transport string // "auto" (default), "udp" or "tcp"
}

// CameraSet runs one Camera per configured window.
type CameraSet struct {
	// The cameras. Ids must be unique.
	Cameras []CameraSpec
	// Returns the video sink of a window. Required.
	Sink func(id string) VideoSink
	// Returns the audio sink of a window, or nil for none. Optional.
	AudioSink func(id string) AudioSink
	// Reconnect delays, for every camera (see Camera.Backoff).
	Backoff Backoff
	// Period of health reports. It defaults to 10 s.
	HealthInterval time.Duration
	// Called with every camera's health reports. Optional.
	OnHealth func(CameraHealth)
	// Updated from every camera's health reports. Optional.
	Metrics *CameraMetrics
	// Logger. nil means discard.
	Logger *slog.Logger
	// Clock of the health windows. It defaults to time.Now.
	Now func() time.Time

	cams  map[string]*Camera // by id; written by Initialize only
	order []string           // ids as configured
}

// Initialize checks every camera's configuration and starts them all; on
// an error none is left running.
func (s *CameraSet) Initialize() error {
	if s.Sink == nil {
		return fmt.Errorf("cameras: %w: no sink factory", ErrCameraConfig)
	}
	s.cams = make(map[string]*Camera, len(s.Cameras))
	for _, spec := range s.Cameras {
		if spec.ID == "" {
			s.Close()
			return fmt.Errorf("cameras: %w: a camera has no id", ErrCameraConfig)
		}
		if _, dup := s.cams[spec.ID]; dup {
			s.Close()
			return fmt.Errorf("cameras: %w: duplicate id %q", ErrCameraConfig, spec.ID)
		}
		cam := &Camera{
			ID: spec.ID, URL: spec.URL, Transport: spec.Transport,
			Sink: s.Sink(spec.ID), Backoff: s.Backoff, Logger: s.Logger, Now: s.Now,
			HealthInterval: s.HealthInterval,
		}
		if s.AudioSink != nil {
			if a := s.AudioSink(spec.ID); a != nil {
				cam.AudioSink = a
			}
		}
		if s.OnHealth != nil || s.Metrics != nil {
			cam.OnHealth = s.onHealth
		}
		if err := cam.Initialize(); err != nil {
			s.Close()
			return err
		}
		s.cams[spec.ID] = cam
		s.order = append(s.order, spec.ID)
	}
	return nil
}

func (s *CameraSet) onHealth(h CameraHealth) {
	if s.Metrics != nil {
		s.Metrics.Observe(h)
	}
	if s.OnHealth != nil {
		s.OnHealth(h)
	}
}

// State returns a window's camera state; false for an unknown id.
func (s *CameraSet) State(id string) (CameraState, bool) {
	cam, ok := s.cams[id]
	if !ok {
		return CameraState{}, false
	}
	return cam.State(), true
}

// IDs returns the window ids, as configured.
func (s *CameraSet) IDs() []string {
	return append([]string(nil), s.order...)
}

// Close stops every camera, all at once, and waits for them.
func (s *CameraSet) Close() {
	var wg sync.WaitGroup
	for _, cam := range s.cams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cam.Close()
		}()
	}
	wg.Wait()
}
