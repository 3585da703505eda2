// Package evidence owns signed evidence exports: the zip a case export is
// (its clips, a manifest and the manifest's Ed25519 signature by the node
// key), how it is written, and how it is checked offline.
//
// # Layout
//
//	manifest.json   the Manifest: the case, its windows and intervals, the
//	                segments each clip was cut from (with their SHA-256),
//	                every other file's name, size and SHA-256, and the
//	                audit row that records this export (with its place in
//	                the node's audit chain)
//	manifest.sig    the Ed25519 signature of manifest.json's bytes by the
//	                node key, in hex (128 characters and a newline)
//	node.pub        the node's public key (PEM), for convenience only: a
//	                verifier trusts the key it was given, not this one
//	clip-NN-WINDOW.mp4   one clip per service interval with footage
//
// The manifest names every file but itself and the signature; the
// signature covers the manifest, so it covers every file's hash. A zip
// with a file the manifest does not name, or without one it names, does
// not verify. Files are stored uncompressed (MP4 does not compress).
package evidence

import (
	"archive/zip"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/internal/nodekey"
)

// File names in the zip.
const (
	ManifestName  = "manifest.json"
	SignatureName = "manifest.sig"
	PublicKeyName = "node.pub"
)

// Format is the manifest's format name.
const Format = "sunlight-evidence-v1"

// ActionExport is the audit action of an evidence export.
const ActionExport = "evidence_export"

// Manifest describes an export.
type Manifest struct {
	Format    string    `json:"format"`
	CreatedAt time.Time `json:"created_at"`
	// Node is the node ID of the key that signed the manifest.
	Node      string     `json:"node"`
	Case      Case       `json:"case"`
	Windows   []string   `json:"windows"`
	Intervals []Interval `json:"intervals"`
	// Files lists every file of the zip but the manifest and its
	// signature.
	Files []File `json:"files"`
	// Audit is the audit row written for this export, in the audit export
	// format (see analytics.AuditRecordJSON): its node, seq, prev_hash and
	// hash place it in the node's chain.
	Audit json.RawMessage `json:"audit"`
}

// Case is what the export says about the case.
type Case struct {
	ID          string     `json:"id"`
	Item        string     `json:"item,omitempty"`
	Hall        string     `json:"hall,omitempty"`
	State       string     `json:"state,omitempty"`
	AcceptedAt  *time.Time `json:"accepted_at,omitempty"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	// Reason is why the auditor exported it.
	Reason     string `json:"reason"`
	ExportedBy string `json:"exported_by"`
}

// Interval is one service interval, padded as in its clip.
type Interval struct {
	Index   int       `json:"index"`
	Window  string    `json:"window"`
	Hall    string    `json:"hall"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Unended bool      `json:"unended,omitempty"`
	// Clip is the file of its footage; empty when none was recorded.
	Clip     string    `json:"clip,omitempty"`
	Segments []Segment `json:"segments"`
}

// Segment is a recorded segment a clip was cut from.
type Segment struct {
	File   string    `json:"file"` // its base name
	Seq    uint64    `json:"seq"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Bytes  int64     `json:"bytes"`
	Closed bool      `json:"closed"`
	SHA256 string    `json:"sha256"`
}

// File is one file of the zip.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Content is a file to write: its entry in the manifest and its bytes.
type Content struct {
	File
	Body io.Reader
}

// Write writes the export to w: the manifest (Format, Node and Files are
// filled in here from key and files), its signature, the public key, then
// the files. A file whose bytes do not have the size and hash given is an
// error (the zip is then not valid evidence: the caller must not present
// it as such).
func Write(w io.Writer, key ed25519.PrivateKey, m Manifest, files []Content) error {
	pub := key.Public().(ed25519.PublicKey)
	m.Format, m.Node = Format, nodekey.ID(pub)
	m.Files = make([]File, len(files))
	for i, f := range files {
		m.Files[i] = f.File
	}
	if m.Windows == nil {
		m.Windows = []string{}
	}
	if m.Intervals == nil {
		m.Intervals = []Interval{}
	}
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("evidence: manifest: %w", err)
	}
	manifest = append(manifest, '\n')
	sig := hex.EncodeToString(ed25519.Sign(key, manifest)) + "\n"

	zw := zip.NewWriter(w)
	put := func(name string, body io.Reader, modified time.Time) (int64, [32]byte, error) {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store, Modified: modified})
		if err != nil {
			return 0, [32]byte{}, err
		}
		h := sha256.New()
		n, err := io.CopyBuffer(io.MultiWriter(fw, h), body, make([]byte, 256<<10))
		var sum [32]byte
		copy(sum[:], h.Sum(nil))
		return n, sum, err
	}
	at := m.CreatedAt
	for _, p := range []struct {
		name string
		body []byte
	}{{ManifestName, manifest}, {SignatureName, []byte(sig)}, {PublicKeyName, nodekey.MarshalPublic(pub)}} {
		if _, _, err := put(p.name, bytes.NewReader(p.body), at); err != nil {
			return fmt.Errorf("evidence: write %s: %w", p.name, err)
		}
	}
	for _, f := range files {
		n, sum, err := put(f.Name, f.Body, at)
		if err != nil {
			return fmt.Errorf("evidence: write %s: %w", f.Name, err)
		}
		if n != f.Size || hex.EncodeToString(sum[:]) != f.SHA256 {
			return fmt.Errorf("evidence: %s changed while it was written (%d bytes, sha256 %x; the manifest says %d, %s)", f.Name, n, sum, f.Size, f.SHA256)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("evidence: finish zip: %w", err)
	}
	return nil
}

// VerifyError says which part of an export failed the check.
type VerifyError struct {
	// File is the zip entry at fault ("" for the zip as a whole).
	File   string
	Reason string
}

func (e *VerifyError) Error() string {
	if e.File == "" {
		return e.Reason
	}
	return e.File + ": " + e.Reason
}

// Result is what a verified export holds.
type Result struct {
	Manifest Manifest
	// Audit is the manifest's audit row.
	Audit analytics.AuditRecord
	// KeyFromZip says the signature was checked with the zip's own
	// node.pub (no key was given): that proves the zip is intact, not who
	// made it.
	KeyFromZip bool
	Key        ed25519.PublicKey
}

// Verify checks an export read from r (size bytes): the manifest's
// signature with pub (nil: the zip's node.pub, see Result.KeyFromZip),
// every file's size and SHA-256 against the manifest, that the zip holds
// no other file, and that the audit row fits its own hash. The first
// failure is a *VerifyError naming the file.
func Verify(r io.ReaderAt, size int64, pub ed25519.PublicKey) (*Result, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, &VerifyError{Reason: fmt.Sprintf("not a readable zip: %v", err)}
	}
	entries := map[string]*zip.File{}
	for _, f := range zr.File {
		if _, dup := entries[f.Name]; dup {
			return nil, &VerifyError{File: f.Name, Reason: "is in the zip twice"}
		}
		entries[f.Name] = f
	}
	read := func(name string, max int64) ([]byte, error) {
		f, ok := entries[name]
		if !ok {
			return nil, &VerifyError{File: name, Reason: "is missing from the zip"}
		}
		rc, err := f.Open()
		if err != nil {
			return nil, &VerifyError{File: name, Reason: fmt.Sprintf("cannot be read: %v", err)}
		}
		defer rc.Close()
		// A wrong zip checksum is left to the signature (or hash) to judge:
		// it says more than "damaged".
		b, err := io.ReadAll(io.LimitReader(rc, max+1))
		if err != nil && !errors.Is(err, zip.ErrChecksum) {
			return nil, &VerifyError{File: name, Reason: fmt.Sprintf("damaged (%v)", err)}
		}
		if int64(len(b)) > max {
			return nil, &VerifyError{File: name, Reason: fmt.Sprintf("larger than %d bytes", max)}
		}
		return b, nil
	}
	res := &Result{Key: pub}
	if pub == nil {
		b, err := read(PublicKeyName, 4<<10)
		if err != nil {
			return nil, err
		}
		if res.Key, err = nodekey.ParsePublic(b); err != nil {
			return nil, &VerifyError{File: PublicKeyName, Reason: err.Error()}
		}
		res.KeyFromZip = true
	}
	manifest, err := read(ManifestName, 64<<20)
	if err != nil {
		return nil, err
	}
	sigText, err := read(SignatureName, 4<<10)
	if err != nil {
		return nil, err
	}
	sig, err := hex.DecodeString(strings.TrimSpace(string(sigText)))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, &VerifyError{File: SignatureName, Reason: "not a hex Ed25519 signature"}
	}
	if !ed25519.Verify(res.Key, manifest, sig) {
		return nil, &VerifyError{File: ManifestName, Reason: fmt.Sprintf("the signature does not verify with the key of node %s: the manifest (or its signature) was changed, or another node signed it", nodekey.ID(res.Key))}
	}
	dec := json.NewDecoder(bytes.NewReader(manifest))
	dec.DisallowUnknownFields()
	m := &res.Manifest
	if err := dec.Decode(m); err != nil {
		return nil, &VerifyError{File: ManifestName, Reason: fmt.Sprintf("not a manifest: %v", err)}
	}
	if m.Format != Format {
		return nil, &VerifyError{File: ManifestName, Reason: fmt.Sprintf("format %q, not %q", m.Format, Format)}
	}
	if m.Node != nodekey.ID(res.Key) {
		return nil, &VerifyError{File: ManifestName, Reason: fmt.Sprintf("names node %s, but node %s signed it", m.Node, nodekey.ID(res.Key))}
	}
	listed := map[string]bool{ManifestName: true, SignatureName: true, PublicKeyName: true}
	for _, f := range m.Files {
		if listed[f.Name] {
			return nil, &VerifyError{File: f.Name, Reason: "named twice in the manifest"}
		}
		listed[f.Name] = true
		if err := checkFile(entries[f.Name], f); err != nil {
			return nil, err
		}
	}
	names := make([]string, 0, len(entries))
	for name := range entries {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !listed[name] {
			return nil, &VerifyError{File: name, Reason: "is in the zip but not in the manifest"}
		}
	}
	for _, iv := range m.Intervals {
		if iv.Clip != "" && !slices.ContainsFunc(m.Files, func(f File) bool { return f.Name == iv.Clip }) {
			return nil, &VerifyError{File: ManifestName, Reason: fmt.Sprintf("interval %d names clip %s, which is not among its files", iv.Index, iv.Clip)}
		}
	}
	if res.Audit, err = checkAudit(m); err != nil {
		return nil, err
	}
	return res, nil
}

func checkFile(zf *zip.File, f File) error {
	if zf == nil {
		return &VerifyError{File: f.Name, Reason: "is in the manifest but missing from the zip"}
	}
	rc, err := zf.Open()
	if err != nil {
		return &VerifyError{File: f.Name, Reason: fmt.Sprintf("cannot be read: %v", err)}
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, rc, make([]byte, 256<<10))
	sum := hex.EncodeToString(h.Sum(nil))
	switch {
	case err != nil && !errors.Is(err, zip.ErrChecksum):
		return &VerifyError{File: f.Name, Reason: fmt.Sprintf("cannot be read: %v", err)}
	case n != f.Size:
		return &VerifyError{File: f.Name, Reason: fmt.Sprintf("%d bytes, the manifest says %d: the file was changed", n, f.Size)}
	case sum != f.SHA256:
		return &VerifyError{File: f.Name, Reason: fmt.Sprintf("SHA-256 %s, the manifest says %s: the file was changed", sum, f.SHA256)}
	case err != nil: // the zip's CRC only: the content matches
		return &VerifyError{File: f.Name, Reason: "the zip's checksum does not match, though its SHA-256 does: the zip was altered"}
	}
	return nil
}

func checkAudit(m *Manifest) (analytics.AuditRecord, error) {
	fail := func(format string, a ...any) (analytics.AuditRecord, error) {
		return analytics.AuditRecord{}, &VerifyError{File: ManifestName, Reason: "audit row: " + fmt.Sprintf(format, a...)}
	}
	r, err := analytics.ParseAuditRecordJSON(m.Audit)
	if err != nil {
		return fail("%v", err)
	}
	h, err := r.ComputeHash()
	if err != nil {
		return fail("%v", err)
	}
	if h != r.Hash {
		return fail("its content does not match its hash")
	}
	if r.Action != ActionExport || r.Target != m.Case.ID {
		return fail("records %s of %q, not the export of case %q", r.Action, r.Target, m.Case.ID)
	}
	return r, nil
}
