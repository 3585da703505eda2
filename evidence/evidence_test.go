package evidence_test

import (
	"archive/zip"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/evidence"
	"github.com/sunlight-gov/sunlight/internal/nodekey"
)

func content(name string, body []byte) evidence.Content {
	sum := sha256.Sum256(body)
	return evidence.Content{File: evidence.File{Name: name, Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:])}, Body: bytes.NewReader(body)}
}

// export writes an export of case CM-7 with two clips, signed by key.
func export(t testing.TB, key ed25519.PrivateKey) []byte {
	t.Helper()
	at := time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)
	row := analytics.AuditRecord{AuditEntry: analytics.AuditEntry{TS: at, Actor: "li.auditor", Role: "auditor", Action: evidence.ActionExport, Target: "CM-7",
		Detail: `reason="complaint"`}, Node: nodekey.ID(key.Public().(ed25519.PublicKey)), Seq: 12, PrevHash: strings.Repeat("0", 64)}
	h, err := row.ComputeHash()
	require.NoError(t, err)
	row.Hash = h
	audit, err := analytics.AuditRecordJSON(row)
	require.NoError(t, err)
	m := evidence.Manifest{CreatedAt: at, Case: evidence.Case{ID: "CM-7", Reason: "complaint", ExportedBy: "li.auditor"}, Windows: []string{"A01"},
		Intervals: []evidence.Interval{{Index: 1, Window: "A01", Hall: "city-main", From: at.Add(-time.Hour), To: at, Clip: "clip-01-A01.mp4"},
			{Index: 2, Window: "A01", Hall: "city-main", From: at.Add(-time.Minute), To: at, Clip: "clip-02-A01.mp4"}},
		Audit: audit}
	var buf bytes.Buffer
	require.NoError(t, evidence.Write(&buf, key, m, []evidence.Content{
		content("clip-01-A01.mp4", bytes.Repeat([]byte("first clip "), 1000)),
		content("clip-02-A01.mp4", bytes.Repeat([]byte("second clip "), 1000)),
	}))
	return buf.Bytes()
}

// rezip rebuilds a zip (with correct CRCs) through edit, which may change
// a file's bytes or drop it (nil).
func rezip(t *testing.T, z []byte, edit func(name string, b []byte) []byte, extra ...evidence.Content) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	require.NoError(t, err)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		if b = edit(f.Name, b); b == nil {
			continue
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Store})
		require.NoError(t, err)
		_, err = w.Write(b)
		require.NoError(t, err)
	}
	for _, c := range extra {
		w, err := zw.Create(c.Name)
		require.NoError(t, err)
		_, err = io.Copy(w, c.Body)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// flipByte changes one byte in the middle of a stored entry's data, in
// the zip's own bytes (the CRC stays as it was).
func flipByte(t *testing.T, z []byte, name string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	require.NoError(t, err)
	for _, f := range zr.File {
		if f.Name == name {
			off, err := f.DataOffset()
			require.NoError(t, err)
			out := bytes.Clone(z)
			out[off+int64(f.CompressedSize64/2)] ^= 0x01
			return out
		}
	}
	t.Fatalf("no %s in the zip", name)
	return nil
}

func TestVerify(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	_, other, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	pub := key.Public().(ed25519.PublicKey)
	z := export(t, key)

	res, err := evidence.Verify(bytes.NewReader(z), int64(len(z)), pub)
	require.NoError(t, err)
	require.False(t, res.KeyFromZip)
	require.Equal(t, "CM-7", res.Manifest.Case.ID)
	require.Equal(t, uint64(12), res.Audit.Seq)
	require.Len(t, res.Manifest.Files, 2)
	res, err = evidence.Verify(bytes.NewReader(z), int64(len(z)), nil)
	require.NoError(t, err)
	require.True(t, res.KeyFromZip, "no key given: the zip's own")

	tests := []struct {
		name string
		zip  []byte
		key  ed25519.PublicKey
		want string
	}{
		{"one byte of a clip", flipByte(t, z, "clip-02-A01.mp4"), pub, "clip-02-A01.mp4: SHA-256 "},
		{"one byte of the manifest", flipByte(t, z, "manifest.json"), pub, "manifest.json: the signature does not verify"},
		{"a clip changed, zip rebuilt", rezip(t, z, func(n string, b []byte) []byte {
			if n == "clip-01-A01.mp4" {
				b = bytes.Replace(b, []byte("first"), []byte("fiRst"), 1)
			}
			return b
		}), pub, "clip-01-A01.mp4: SHA-256 "},
		{"a clip cut short", rezip(t, z, func(n string, b []byte) []byte {
			if n == "clip-01-A01.mp4" {
				b = b[:100]
			}
			return b
		}), pub, "clip-01-A01.mp4: 100 bytes, the manifest says 11000"},
		{"a clip removed", rezip(t, z, func(n string, b []byte) []byte {
			if n == "clip-02-A01.mp4" {
				return nil
			}
			return b
		}), pub, "clip-02-A01.mp4: is in the manifest but missing from the zip"},
		{"a file added", rezip(t, z, func(_ string, b []byte) []byte { return b }, content("note.txt", []byte("hi"))), pub,
			"note.txt: is in the zip but not in the manifest"},
		{"the manifest re-signed by another key", resign(t, z, other), pub, "manifest.json: the signature does not verify with the key of node " + nodekey.ID(pub)},
		{"re-signed, checked with the zip's own key", resign(t, z, other), nil, "manifest.json: names node " + nodekey.ID(pub) + ", but node " + nodekey.ID(other.Public().(ed25519.PublicKey)) + " signed it"},
		{"another node's key", z, other.Public().(ed25519.PublicKey), "manifest.json: the signature does not verify"},
		{"not a zip", []byte("PK not really"), pub, "not a readable zip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := evidence.Verify(bytes.NewReader(tt.zip), int64(len(tt.zip)), tt.key)
			var ve *evidence.VerifyError
			require.ErrorAs(t, err, &ve)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

// resign replaces the signature (and node.pub) with key's.
func resign(t *testing.T, z []byte, key ed25519.PrivateKey) []byte {
	var manifest []byte
	rezip(t, z, func(n string, b []byte) []byte {
		if n == evidence.ManifestName {
			manifest = b
		}
		return b
	})
	return rezip(t, z, func(n string, b []byte) []byte {
		switch n {
		case evidence.SignatureName:
			return []byte(hex.EncodeToString(ed25519.Sign(key, manifest)) + "\n")
		case evidence.PublicKeyName:
			return nodekey.MarshalPublic(key.Public().(ed25519.PublicKey))
		}
		return b
	})
}

func TestWriteRefusesChangedContent(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	c := content("clip-01-A01.mp4", []byte("abc"))
	c.Body = strings.NewReader("abd") // changed after it was hashed
	err = evidence.Write(io.Discard, key, evidence.Manifest{}, []evidence.Content{c})
	require.ErrorContains(t, err, "changed while it was written")
}

// FuzzVerify: whatever the file, Verify answers (an error or a result),
// never panics, and never passes a zip other than the one signed.
func FuzzVerify(f *testing.F) {
	seed := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	good := export(f, seed)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	pub := seed.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, z []byte) {
		res, err := evidence.Verify(bytes.NewReader(z), int64(len(z)), pub)
		if err != nil {
			var ve *evidence.VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("not a VerifyError: %v", err)
			}
			return
		}
		if res.Manifest.Case.ID != "CM-7" {
			t.Fatalf("a zip verified that is not the signed one: %+v", res.Manifest.Case)
		}
	})
}
