package analytics

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// AuditAnchor appends a signed checkpoint to the store's audit chain every
// Interval (when rows were added since the last one) and once more on
// Close, so that a clean shutdown leaves the whole chain anchored.
type AuditAnchor struct {
	// Store is the audit log (required).
	Store *Store
	// Interval between checkpoints. Default 5 minutes.
	Interval time.Duration
	// Logger; nil discards.
	Logger *slog.Logger

	log    *slog.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// DefaultAuditCheckpointInterval is AuditAnchor's default Interval.
const DefaultAuditCheckpointInterval = 5 * time.Minute

// Initialize starts the periodic checkpoints.
func (a *AuditAnchor) Initialize() error {
	a.log = a.Logger
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.log = a.log.With("component", "audit_anchor")
	if a.Interval <= 0 {
		a.Interval = DefaultAuditCheckpointInterval
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		t := time.NewTicker(a.Interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				a.checkpoint(ctx)
			}
		}
	}()
	return nil
}

func (a *AuditAnchor) checkpoint(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	r, ok, err := a.Store.CheckpointAudit(ctx)
	switch {
	case err != nil:
		a.log.Warn("audit checkpoint failed: retried at the next one", "err", err)
	case ok:
		a.log.Debug("audit checkpoint", "node", r.Node, "seq", r.Seq)
	}
}

// Close stops the checkpoints and writes a last one.
func (a *AuditAnchor) Close() {
	if a.cancel == nil {
		return
	}
	a.cancel()
	a.wg.Wait()
	a.checkpoint(context.Background())
}
