package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/sunlight-gov/sunlight/analytics/tracker"
)

// SetHealthWriterTick makes w flush when tick fires instead of every
// FlushInterval. Call it before Initialize.
func SetHealthWriterTick(w *HealthWriter, tick <-chan time.Time) { w.tick = tick }

// RerunMigrations runs every statement of every embedded migration again on
// s, as a migration interrupted half-way would on the next start.
func RerunMigrations(ctx context.Context, s *Store) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	for _, m := range ms {
		for _, stmt := range m.Statements {
			if err := s.runMigrationStatement(ctx, stmt); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
			}
		}
	}
	return nil
}

// InsertFactsUnstored is insertFacts: it also returns the rows not stored.
func InsertFactsUnstored(ctx context.Context, s *Store, f *tracker.Facts) (tracker.Facts, error) {
	return s.insertFacts(ctx, f)
}
