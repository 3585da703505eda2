package analytics_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics/chcluster"
	"github.com/sunlight-gov/sunlight/analytics/chtest"
	"github.com/sunlight-gov/sunlight/ingest"
)

// TestClusterIngestSurvivesReplicaKills inserts 100,000 events in batches
// through the Distributed events table while one replica of each shard is
// killed (SIGKILL, the node the store's connections go to first among them),
// retrying a failed batch as the event writer does. Every event is stored
// exactly once: a retry after a batch reached one shard and not the other
// finds the stored events and skips them.
func TestClusterIngestSurvivesReplicaKills(t *testing.T) {
	if testing.Short() {
		t.Skip("kills cluster nodes")
	}
	s := chtest.ClusterStore(t)
	c := chtest.SharedCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()

	const total, batch = 100_000, 2_000
	base := time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)
	events := make([]ingest.Event, total)
	for i := range events {
		events[i] = ingest.Event{
			EventID: fmt.Sprintf("kill-%06d", i), Type: ingest.TicketIssued,
			TS:   base.Add(time.Duration(i) * 100 * time.Millisecond),
			Hall: fmt.Sprintf("hall-%02d", i%17), Ticket: fmt.Sprintf("T%06d", i),
		}
	}
	var failures int
	for b := 0; b < total; b += batch {
		switch b {
		case 20 * batch: // shard 1's first replica, to which the store connects first
			require.NoError(t, c.Nodes[0].Kill())
		case 30 * batch: // shard 2's first replica
			require.NoError(t, c.Nodes[2].Kill())
		}
		for attempt := 0; ; attempt++ {
			_, err := s.InsertEvents(ctx, events[b:b+batch])
			if err == nil {
				break
			}
			failures++
			require.Less(t, attempt, 100, "batch %d keeps failing: %v", b/batch, err)
			time.Sleep(200 * time.Millisecond)
		}
	}
	t.Logf("%d failed inserts retried", failures)
	require.NoError(t, c.WaitReplicated(ctx, s.Database(), 2*time.Minute))

	var rows, distinct uint64
	require.NoError(t, s.Conn().QueryRow(ctx, `SELECT count(), uniqExact(event_id) FROM events`).Scan(&rows, &distinct))
	require.Equal(t, uint64(total), distinct, "every event arrived")
	require.Equal(t, uint64(total), rows, "no event twice")
	// Each replica holds its shard's rows: read every node's local table.
	perShard := map[int]uint64{}
	for _, n := range c.Nodes {
		var local uint64
		require.NoError(t, chcluster.QueryUint(ctx, n.Addr(), &local, "SELECT count() FROM `"+s.Database()+"`.events_local"))
		if prev, ok := perShard[n.Shard]; ok {
			require.Equal(t, prev, local, "replicas of shard %d differ", n.Shard)
		}
		perShard[n.Shard] = local
	}
	require.Equal(t, uint64(total), perShard[1]+perShard[2])
	require.NotZero(t, perShard[1])
	require.NotZero(t, perShard[2])
}
