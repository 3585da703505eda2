package console

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics"
)

// TestAuditExportAndVerify: an auditor downloads the audit chain (the
// file holds the download's own row and verifies offline with the node
// key) and has it checked in place; after a row is edited in ClickHouse
// the check names that row.
func TestAuditExportAndVerify(t *testing.T) {
	ts := newTestServer(t)
	auditor := ts.login(t, RoleAuditor)
	ts.login(t, RoleManager)

	status, body, hdr := ts.do(t, http.MethodGet, "/api/v1/audit/export", auditor, "", nil)
	require.Equal(t, http.StatusOK, status, string(body))
	require.Equal(t, "application/x-ndjson", hdr.Get("Content-Type"))
	require.Contains(t, hdr.Get("Cache-Control"), "no-store")
	pub := ts.nodeKey.Public().(ed25519.PublicKey)
	rep, err := analytics.VerifyAuditFile(bytes.NewReader(body), []ed25519.PublicKey{pub})
	require.NoError(t, err)
	require.Len(t, rep.Nodes, 1)
	require.Equal(t, 3, rep.Nodes[0].Rows, "two logins and the export itself")
	require.Contains(t, string(body), `"action":"audit_export"`)

	type verifyView struct {
		OK     bool
		Nodes  []auditNodeView
		Broken *auditBrokenView
	}
	check := func() verifyView {
		status, body, _ := ts.do(t, http.MethodGet, "/api/v1/audit/verify", auditor, "", nil)
		require.Equal(t, http.StatusOK, status, string(body))
		var v verifyView
		require.NoError(t, json.Unmarshal(body, &v))
		return v
	}
	v := check()
	require.True(t, v.OK)
	require.Nil(t, v.Broken)
	require.Equal(t, 3, v.Nodes[0].Rows)

	// The manager's login (seq 2) is rewritten as somebody else's.
	require.NoError(t, ts.store.Conn().Exec(t.Context(), `ALTER TABLE audit_log UPDATE actor = 'nobody' WHERE seq = 2`))
	require.Eventually(t, func() bool {
		var n uint64
		require.NoError(t, ts.store.Conn().QueryRow(t.Context(),
			`SELECT count() FROM system.mutations WHERE database = currentDatabase() AND table = 'audit_log' AND is_done = 0`).Scan(&n))
		return n == 0
	}, 60*time.Second, 50*time.Millisecond)
	v = check()
	require.False(t, v.OK)
	require.NotNil(t, v.Broken)
	require.Equal(t, uint64(2), v.Broken.Seq)
	require.Equal(t, "nobody", v.Broken.Actor)
	require.Equal(t, "login", v.Broken.Action)
	require.Contains(t, v.Broken.Reason, "the row was changed")

	status, _, _ = ts.do(t, http.MethodGet, "/api/v1/audit/verify", ts.login(t, RoleInspector), "", nil)
	require.Equal(t, http.StatusForbidden, status)
}
