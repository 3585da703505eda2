package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/sunlight-gov/sunlight/internal/spool"
)

// ErrIntakeFull is returned (wrapped) by Intake.Accept when the spool has
// reached its bound: events wait there while ClickHouse is unreachable.
var ErrIntakeFull = errors.New("ingest: event spool full")

// Intake accepts validated events: it makes each batch durable in the spool
// (one record per batch, fsync'd) and then hands it to the observers that
// act on events as they arrive (the supervision engine, the live wall).
// An analytics.EventWriter drains the spool into ClickHouse.
type Intake struct {
	// Spool is where accepted events wait for the writer; required.
	Spool *spool.Spool
	// Observe, if set, sees every accepted batch right after it is
	// durable, one batch at a time. It must not block for long.
	Observe func([]Event)
	// OnFull, if set, is called when a batch is refused because the spool
	// is full (to raise an alert).
	OnFull func(spool.Stats)

	bufs sync.Pool
	// observeMu keeps Observe calls one at a time.
	observeMu sync.Mutex
}

// Accept makes evs durable and returns nil, or returns an error and keeps
// nothing of them.
func (in *Intake) Accept(ctx context.Context, evs []Event) error {
	if len(evs) == 0 {
		return nil
	}
	bp, _ := in.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	rec := AppendRecord((*bp)[:0], evs)
	err := in.Spool.Append(ctx, [][]byte{rec})
	*bp = rec
	in.bufs.Put(bp)
	if errors.Is(err, spool.ErrFull) {
		st := in.Spool.Stats()
		if in.OnFull != nil {
			in.OnFull(st)
		}
		return fmt.Errorf("%w (%d MB waiting for ClickHouse)", ErrIntakeFull, st.PendingBytes>>20)
	}
	if err != nil {
		return fmt.Errorf("ingest: spool: %w", err)
	}
	if in.Observe != nil {
		in.observeMu.Lock()
		in.Observe(evs)
		in.observeMu.Unlock()
	}
	return nil
}
