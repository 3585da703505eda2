package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/console"
)

// sunlightCmd runs a sunlight command in this process and returns its exit
// code and output.
func sunlightCmd(args ...string) (int, string) {
	var out bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &out)
	return code, out.String()
}

// checkEvidenceExport: the signed export of a recorded case (CM-7, served
// by TestCaseClip's hall) verifies offline with the node's public key; one
// byte changed in its clip or its manifest makes verify-export fail and
// name the file. The export is in the audit log, whose chain audit verify
// checks; one audit row edited in ClickHouse makes it fail naming the row.
func checkEvidenceExport(t *testing.T, h *liveHall, auditor string, clip []byte) {
	dir := t.TempDir()
	pubFile := filepath.Join(dir, "node.pub")
	code, out := sunlightCmd("audit", "pubkey", "--config", h.cfgPath)
	require.Equal(t, 0, code, out)
	pem := out[strings.Index(out, "-----BEGIN"):]
	require.NoError(t, os.WriteFile(pubFile, []byte(pem), 0o644))
	st, err := os.Stat(filepath.Join(h.dir, "data", "node.key"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the node key is the owner's only")

	status, _, body := h.get(t, auditor, "/api/v1/cases/CM-7/export", nil)
	require.Equal(t, http.StatusBadRequest, status, "a reason is required")
	require.Contains(t, string(body), "reason_required")
	status, _, _ = h.get(t, h.token(t, console.RoleAdmin), "/api/v1/cases/CM-7/export?reason=x", nil)
	require.Equal(t, http.StatusForbidden, status, "auditors only")
	status, hdr, z := h.get(t, auditor, "/api/v1/cases/CM-7/export?reason="+"disciplinary%20case%2042", nil)
	require.Equal(t, http.StatusOK, status, string(z))
	require.Equal(t, "application/zip", hdr.Get("Content-Type"))
	require.Contains(t, hdr.Get("Cache-Control"), "no-store")

	// The zip holds the same clip the clip route serves, and a manifest
	// that names it with its hash and the export's audit row.
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	require.NoError(t, err)
	var names []string
	files := map[string][]byte{}
	for _, f := range zr.File {
		names = append(names, f.Name)
		rc, err := f.Open()
		require.NoError(t, err)
		var b bytes.Buffer
		_, err = b.ReadFrom(rc)
		require.NoError(t, err)
		files[f.Name] = b.Bytes()
	}
	require.Equal(t, []string{"manifest.json", "manifest.sig", "node.pub", "clip-01-A01.mp4"}, names)
	require.True(t, bytes.Equal(clip, files["clip-01-A01.mp4"]), "the export's clip is the clip route's")
	var m struct {
		Case struct {
			ID, Reason string
			ExportedBy string `json:"exported_by"`
		}
		Intervals []struct {
			Window   string
			Clip     string
			Segments []struct{ SHA256 string }
		}
		Audit struct {
			Action, Target, Hash string
			Seq                  uint64
		}
	}
	require.NoError(t, json.Unmarshal(files["manifest.json"], &m))
	require.Equal(t, "CM-7", m.Case.ID)
	require.Equal(t, "disciplinary case 42", m.Case.Reason)
	require.Equal(t, "auditor", m.Case.ExportedBy)
	require.Len(t, m.Intervals, 1)
	require.Equal(t, "clip-01-A01.mp4", m.Intervals[0].Clip)
	require.GreaterOrEqual(t, len(m.Intervals[0].Segments), 3)
	for _, sg := range m.Intervals[0].Segments {
		require.Regexp(t, `^[0-9a-f]{64}$`, sg.SHA256)
	}
	require.Equal(t, "evidence_export", m.Audit.Action)
	require.Equal(t, "CM-7", m.Audit.Target)
	require.Positive(t, m.Audit.Seq)

	good := filepath.Join(dir, "good.zip")
	require.NoError(t, os.WriteFile(good, z, 0o644))
	code, out = sunlightCmd("verify-export", good, "--pubkey", pubFile)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "OK: the signature and every file verify")
	require.Contains(t, out, fmt.Sprintf("seq %d hash %s", m.Audit.Seq, m.Audit.Hash))
	code, out = sunlightCmd("verify-export", good)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "WARNING: checked with the key inside the zip", "without --pubkey: intact, origin unproven")

	// One byte changed, in the clip and then in the manifest.
	for _, tt := range []struct{ file, want string }{
		{"clip-01-A01.mp4", "FAILED: clip-01-A01.mp4: SHA-256 "},
		{"manifest.json", "FAILED: manifest.json: the signature does not verify"},
	} {
		var off int64
		for _, f := range zr.File {
			if f.Name == tt.file {
				off, err = f.DataOffset()
				require.NoError(t, err)
				off += int64(f.CompressedSize64) / 3
			}
		}
		bad := bytes.Clone(z)
		bad[off] ^= 0x20
		path := filepath.Join(dir, "bad.zip")
		require.NoError(t, os.WriteFile(path, bad, 0o644))
		code, out = sunlightCmd("verify-export", path, "--pubkey", pubFile)
		require.Equal(t, 1, code, out)
		require.Contains(t, out, tt.want)
	}

	// The export is audited, and the audit log verifies (the server is
	// running: the command uses its managed ClickHouse).
	status, _, body = h.get(t, auditor, "/api/v1/audit?action=evidence_export", nil)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, string(body), `"target":"CM-7"`)
	require.Contains(t, string(body), `disciplinary case 42`)
	code, out = sunlightCmd("audit", "verify", "--config", h.cfgPath)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "OK: every chained row fits its chain")
	require.Regexp(t, `node n-[0-9a-f]{16}: \d+ rows`, out)

	// The export file verifies too.
	export := filepath.Join(dir, "audit.ndjson")
	code, out = sunlightCmd("audit", "export", "--config", h.cfgPath, "--out", export)
	require.Equal(t, 0, code, out)
	code, out = sunlightCmd("audit", "verify", "--file", export, "--pubkey", pubFile)
	require.Equal(t, 0, code, out)
	code, out = sunlightCmd("verify-export", good, "--pubkey", pubFile, "--audit", export)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, fmt.Sprintf("the audit row is row %d of node", m.Audit.Seq))

	// Someone with ClickHouse access rewrites the export's reason.
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{fmt.Sprintf("127.0.0.1:%d", h.chPort)}, Protocol: clickhouse.Native})
	require.NoError(t, err)
	defer conn.Close()
	ctx := context.Background()
	require.NoError(t, conn.Exec(ctx, fmt.Sprintf(`ALTER TABLE sunlight.audit_log UPDATE detail = 'clips=1 reason="routine"' WHERE action = 'evidence_export' AND seq = %d`, m.Audit.Seq)))
	require.Eventually(t, func() bool {
		var n uint64
		require.NoError(t, conn.QueryRow(ctx, `SELECT count() FROM system.mutations WHERE database = 'sunlight' AND table = 'audit_log' AND is_done = 0`).Scan(&n))
		return n == 0
	}, 60*time.Second, 50*time.Millisecond, "the mutation is done")
	code, out = sunlightCmd("audit", "verify", "--config", h.cfgPath)
	t.Logf("audit verify after the edit:\n%s", out)
	require.Equal(t, 1, code, out)
	require.Regexp(t, regexp.MustCompile(fmt.Sprintf(`FAILED: audit row node=n-[0-9a-f]{16} seq=%d \(\S+ evidence_export by "auditor" on "CM-7"\): its content does not match its hash: the row was changed`, m.Audit.Seq)), out)
	// The export file made before the edit still verifies: a copy kept
	// elsewhere is the reference.
	code, out = sunlightCmd("audit", "verify", "--file", export, "--pubkey", pubFile)
	require.Equal(t, 0, code, out)
}
