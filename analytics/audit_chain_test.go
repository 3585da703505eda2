package analytics_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/analytics/chtest"
)

// chainStore opens a store on database db (a fresh one for "") with the
// node key key.
func chainStore(t testing.TB, db string, key ed25519.PrivateKey) *analytics.Store {
	t.Helper()
	addr := chtest.Shared(t)
	if db == "" {
		db = chtest.NewDatabase(t, addr)
	}
	s, err := analytics.OpenStore(t.Context(), analytics.StoreConfig{Addr: []string{addr}, Database: db, AuditKey: key})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newKey(t *testing.T) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return k
}

// fillChain writes a legacy row (as before migration 0013), then n rows
// from 8 goroutines at once, a checkpoint, and 2 rows more.
func fillChain(t *testing.T, s *analytics.Store, n int) {
	t.Helper()
	require.NoError(t, s.Conn().Exec(t.Context(),
		`INSERT INTO audit_log (ts, ts_ms, actor, role, action, target, detail, client) SELECT toDateTime(1764000000, 'UTC'), 5, 'old', 'admin', 'login', '', '', '10.0.0.1'`))
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for g := range 8 {
		wg.Go(func() {
			for i := g; i < n; i += 8 {
				errs <- s.WriteAudit(t.Context(), analytics.AuditEntry{Actor: fmt.Sprintf("user%d", i), Role: "auditor", Action: "clip",
					Target: fmt.Sprintf("CM-%d", i), Detail: fmt.Sprintf("reason=%q", "复核 "+fmt.Sprint(i)), Client: "127.0.0.1"})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	cp, ok, err := s.CheckpointAudit(t.Context())
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, uint64(n+1), cp.Seq)
	_, ok, err = s.CheckpointAudit(t.Context())
	require.NoError(t, err)
	require.False(t, ok, "nothing new to anchor")
	for range 2 {
		require.NoError(t, s.WriteAudit(t.Context(), analytics.AuditEntry{Actor: "x", Action: "login"}))
	}
}

// mutate runs an ALTER TABLE ... UPDATE/DELETE and waits until it is done
// (18.16 has no mutations_sync).
func mutate(t *testing.T, s *analytics.Store, stmt string) {
	t.Helper()
	require.NoError(t, s.Conn().Exec(t.Context(), stmt))
	require.Eventually(t, func() bool {
		var n uint64
		require.NoError(t, s.Conn().QueryRow(t.Context(),
			`SELECT count() FROM system.mutations WHERE database = currentDatabase() AND table = 'audit_log' AND is_done = 0`).Scan(&n))
		return n == 0
	}, 60*time.Second, 50*time.Millisecond)
}

// TestAuditChain: rows written concurrently form one unbroken chain per
// node, which continues across a restart; verify reports the rows, the
// checkpoint and the unchained legacy row, and the export file verifies
// the same.
func TestAuditChain(t *testing.T) {
	key := newKey(t)
	db := chtest.NewDatabase(t, chtest.Shared(t))
	s := chainStore(t, db, key)
	fillChain(t, s, 40)
	node, pub := s.AuditNode()
	require.True(t, pub.Equal(key.Public()))

	rep, err := s.VerifyAudit(t.Context(), []ed25519.PublicKey{pub})
	require.NoError(t, err)
	want := analytics.AuditReport{Unchained: 1, Nodes: []analytics.AuditNodeReport{{Node: node, Rows: 43, Head: 43, Checkpoints: 1,
		SignaturesChecked: true, LastCheckpoint: 41, Unanchored: 2}}}
	require.Equal(t, want, rep)

	// A restart with the same key continues the chain; another key starts
	// a chain of its own.
	require.NoError(t, s.Close())
	s = chainStore(t, db, key)
	require.NoError(t, s.WriteAudit(t.Context(), analytics.AuditEntry{Actor: "y", Action: "logout"}))
	cp, ok, err := s.CheckpointAudit(t.Context())
	require.NoError(t, err)
	require.True(t, ok, "the restarted store knows rows follow the last checkpoint")
	require.Equal(t, uint64(45), cp.Seq)
	other := chainStore(t, db, nil)
	require.NoError(t, other.WriteAudit(t.Context(), analytics.AuditEntry{Actor: "z", Action: "login", Detail: "not UTF-8: \xff\xfe"}))
	rep, err = s.VerifyAudit(t.Context(), []ed25519.PublicKey{pub})
	require.NoError(t, err)
	require.Len(t, rep.Nodes, 2)
	for _, n := range rep.Nodes {
		if n.Node == node {
			require.Equal(t, analytics.AuditNodeReport{Node: node, Rows: 45, Head: 45, Checkpoints: 2, SignaturesChecked: true, LastCheckpoint: 45}, n)
		} else {
			require.Equal(t, 1, n.Rows)
			require.False(t, n.SignaturesChecked, "no key given for that node")
		}
	}

	var file bytes.Buffer
	n, err := s.ExportAudit(t.Context(), &file)
	require.NoError(t, err)
	require.Equal(t, 47, n)
	frep, err := analytics.VerifyAuditFile(bytes.NewReader(file.Bytes()), []ed25519.PublicKey{pub})
	require.NoError(t, err)
	require.Equal(t, rep, frep, "the file holds every byte (the invalid UTF-8 too)")

	// One changed byte in the file names its line.
	lines := strings.Split(file.String(), "\n")
	lines[10] = strings.Replace(lines[10], "复核", "复查", 1)
	_, err = analytics.VerifyAuditFile(strings.NewReader(strings.Join(lines, "\n")), []ed25519.PublicKey{pub})
	var ce *analytics.AuditChainError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, 11, ce.Line)
	require.Contains(t, err.Error(), "line 11: ")
	require.Contains(t, err.Error(), "the row was changed")
}

// TestAuditChainTamper: each way of editing the log in ClickHouse is
// found, and verify names the row.
func TestAuditChainTamper(t *testing.T) {
	const n = 16
	tests := []struct {
		name    string
		tamper  string // SQL
		seq     uint64 // the row verify names
		reason  string
		withKey bool
	}{
		{"edit a row's detail", `ALTER TABLE audit_log UPDATE detail = 'reason="nothing to see"' WHERE seq = 7`, 7, "its content does not match its hash: the row was changed", true},
		{"edit a row's actor", `ALTER TABLE audit_log UPDATE actor = 'someone.else' WHERE seq = 3`, 3, "the row was changed", true},
		{"replace a row's hash", `ALTER TABLE audit_log UPDATE hash = '` + strings.Repeat("ab", 32) + `' WHERE seq = 5`, 5, "its content does not match its hash", true},
		{"delete a row", `ALTER TABLE audit_log DELETE WHERE seq = 9`, 10, "rows seq 9..9 are missing", true},
		{"insert a copy", `INSERT INTO audit_log SELECT * FROM audit_log WHERE seq = 4`, 4, "a second row with seq 4", true},
		{"re-sign nothing: forge the checkpoint's signature", `ALTER TABLE audit_log UPDATE signature = '` + strings.Repeat("00", 64) + `' WHERE action = 'audit_checkpoint'`, n + 1, "signature does not verify", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := chainStore(t, chtest.NewDatabase(t, chtest.Shared(t)), newKey(t))
			fillChain(t, s, n)
			_, pub := s.AuditNode()
			_, err := s.VerifyAudit(t.Context(), []ed25519.PublicKey{pub})
			require.NoError(t, err)
			if strings.HasPrefix(tt.tamper, "ALTER") {
				mutate(t, s, tt.tamper)
			} else {
				require.NoError(t, s.Conn().Exec(t.Context(), tt.tamper))
			}
			_, err = s.VerifyAudit(t.Context(), []ed25519.PublicKey{pub})
			var ce *analytics.AuditChainError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, tt.seq, ce.Row.Seq, "%v", err)
			require.Contains(t, err.Error(), tt.reason)
			require.Contains(t, err.Error(), fmt.Sprintf("seq=%d", tt.seq))
		})
	}
}

// TestAuditChainRewrite: an attacker who recomputes every hash after the
// row they changed (the hash function is public) is caught by the
// checkpoint's signature, which needs the node key.
func TestAuditChainRewrite(t *testing.T) {
	s := chainStore(t, chtest.NewDatabase(t, chtest.Shared(t)), newKey(t))
	fillChain(t, s, 10)
	node, pub := s.AuditNode()
	var rows []analytics.AuditRecord
	require.NoError(t, s.EachAuditRecord(t.Context(), func(r analytics.AuditRecord) error {
		if r.Node == node {
			rows = append(rows, r)
		}
		return nil
	}))
	rows[2].Detail = "rewritten"
	for i := 2; i < len(rows); i++ {
		if i > 2 {
			rows[i].PrevHash = rows[i-1].Hash
		}
		h, err := rows[i].ComputeHash()
		require.NoError(t, err)
		rows[i].Hash = h
		mutate(t, s, fmt.Sprintf(`ALTER TABLE audit_log UPDATE detail = '%s', prev_hash = '%s', hash = '%s' WHERE node = '%s' AND seq = %d`,
			strings.ReplaceAll(rows[i].Detail, "'", "\\'"), rows[i].PrevHash, rows[i].Hash, node, rows[i].Seq))
		if i == 2 {
			// One row rewritten with its hash: the next row's link breaks.
			_, err := s.VerifyAudit(t.Context(), nil)
			var ce *analytics.AuditChainError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, uint64(4), ce.Row.Seq)
			require.Contains(t, err.Error(), "prev_hash does not match the hash of row seq 3")
		}
	}
	_, err := s.VerifyAudit(t.Context(), nil)
	require.NoError(t, err, "without the key, a consistent rewrite looks fine")
	_, err = s.VerifyAudit(t.Context(), []ed25519.PublicKey{pub})
	var ce *analytics.AuditChainError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, uint64(11), ce.Row.Seq)
	require.Contains(t, err.Error(), "signature does not verify")
}

// TestAuditAnchor: the anchor checkpoints the chain on its interval when
// rows were added, and once more on Close.
func TestAuditAnchor(t *testing.T) {
	s := chainStore(t, "", nil)
	node, pub := s.AuditNode()
	a := &analytics.AuditAnchor{Store: s, Interval: 20 * time.Millisecond}
	require.NoError(t, a.Initialize())
	require.NoError(t, s.WriteAudit(t.Context(), analytics.AuditEntry{Actor: "x", Action: "login"}))
	report := func() analytics.AuditNodeReport {
		rep, err := s.VerifyAudit(t.Context(), []ed25519.PublicKey{pub})
		require.NoError(t, err)
		require.Len(t, rep.Nodes, 1)
		require.Equal(t, node, rep.Nodes[0].Node)
		return rep.Nodes[0]
	}
	require.Eventually(t, func() bool { return report().Checkpoints == 1 }, 20*time.Second, 20*time.Millisecond)
	require.NoError(t, s.WriteAudit(t.Context(), analytics.AuditEntry{Actor: "x", Action: "logout"}))
	a.Close()
	r := report()
	require.Equal(t, 0, r.Unanchored, "Close anchored the last row")
	require.Equal(t, r.Head, r.LastCheckpoint)
	require.GreaterOrEqual(t, r.Checkpoints, 2)
	require.Equal(t, 2, r.Rows-r.Checkpoints, "no checkpoint without new rows: only the two rows and their anchors")
}
