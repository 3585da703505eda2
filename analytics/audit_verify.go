package analytics

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/sunlight-gov/sunlight/internal/nodekey"
)

// AuditChainError names the first row that does not fit its chain.
type AuditChainError struct {
	// Row is the row that does not fit (as read; for missing rows, the
	// row after the gap).
	Row AuditRecord
	// Line is the row's line in an export file (0 when read from
	// ClickHouse).
	Line int
	// Reason says what is wrong.
	Reason string
}

func (e *AuditChainError) Error() string {
	where := ""
	if e.Line > 0 {
		where = fmt.Sprintf("line %d: ", e.Line)
	}
	return fmt.Sprintf("%saudit row node=%s seq=%d (%s %s by %q on %q): %s", where, e.Row.Node, e.Row.Seq,
		e.Row.TS.UTC().Format("2006-01-02T15:04:05.000Z"), e.Row.Action, truncate(e.Row.Actor, 64), truncate(e.Row.Target, 64), e.Reason)
}

// AuditNodeReport is what verifying one node's chain found.
type AuditNodeReport struct {
	Node string
	// Rows is the number of rows of the chain; Head the last seq.
	Rows int
	Head uint64
	// Checkpoints counts the checkpoint rows; SignaturesChecked says
	// whether their signatures were checked (the node's key was given).
	Checkpoints       int
	SignaturesChecked bool
	// LastCheckpoint is the seq of the last checkpoint (0: none);
	// Unanchored the rows after it, which no signature covers yet.
	LastCheckpoint uint64
	Unanchored     int
}

// AuditReport is the result of verifying audit chains.
type AuditReport struct {
	Nodes []AuditNodeReport
	// Unchained counts the rows from before the chain existed (seq 0):
	// nothing can be checked about them.
	Unchained int
}

// AuditVerifier checks audit rows against their chains. Feed it every
// row with Add, each node's rows in ascending seq (nodes may interleave),
// then call Finish.
type AuditVerifier struct {
	// Keys are the nodes' public keys by node ID. A checkpoint of a node
	// with a key is checked; a key whose node ID differs is ignored.
	Keys []ed25519.PublicKey

	nodes     map[string]*verifyState
	unchained int
	keys      map[string]ed25519.PublicKey
}

type verifyState struct {
	AuditNodeReport
	head string
}

// Add checks one row; the first row that does not fit is returned as an
// *AuditChainError. line is its line in a file, or 0.
func (v *AuditVerifier) Add(r AuditRecord, line int) error {
	if v.nodes == nil {
		v.nodes = map[string]*verifyState{}
		v.keys = map[string]ed25519.PublicKey{}
		for _, k := range v.Keys {
			v.keys[nodekey.ID(k)] = k
		}
	}
	fail := func(format string, a ...any) error {
		return &AuditChainError{Row: r, Line: line, Reason: fmt.Sprintf(format, a...)}
	}
	if r.Seq == 0 {
		if r.Node != "" || r.Hash != "" || r.PrevHash != "" {
			return fail("seq 0 is for rows from before the chain, which have no node or hashes")
		}
		v.unchained++
		return nil
	}
	st := v.nodes[r.Node]
	if st == nil {
		st = &verifyState{AuditNodeReport: AuditNodeReport{Node: r.Node}, head: genesisPrev}
		_, st.SignaturesChecked = v.keys[r.Node]
		v.nodes[r.Node] = st
	}
	switch {
	case r.Seq == st.Head && st.Head > 0:
		return fail("a second row with seq %d: a row was inserted", r.Seq)
	case r.Seq < st.Head:
		return fail("out of order after seq %d", st.Head)
	case r.Seq > st.Head+1:
		return fail("rows seq %d..%d are missing: deleted", st.Head+1, r.Seq-1)
	}
	if r.PrevHash != st.head {
		if st.Head == 0 {
			return fail("prev_hash is not the genesis value (64 zeros)")
		}
		return fail("prev_hash does not match the hash of row seq %d: that row's hash, or this link, was changed", st.Head)
	}
	h, err := r.ComputeHash()
	if err != nil {
		return fail("%v", err)
	}
	if h != r.Hash {
		return fail("its content does not match its hash: the row was changed")
	}
	if r.Action == ActionAuditCheckpoint {
		if r.Signature == "" {
			return fail("a checkpoint without a signature")
		}
		if pub, ok := v.keys[r.Node]; ok && !r.VerifySignature(pub) {
			return fail("the checkpoint's signature does not verify with the node's key: the chain up to it was rewritten")
		}
		st.Checkpoints++
		st.LastCheckpoint = r.Seq
		st.Unanchored = -1 // this row; counted below
	} else if r.Signature != "" {
		return fail("a signature on a row that is not a checkpoint")
	}
	st.Unanchored++
	st.Rows++
	st.Head, st.head = r.Seq, r.Hash
	return nil
}

// Finish returns the report, the nodes sorted by ID.
func (v *AuditVerifier) Finish() AuditReport {
	rep := AuditReport{Unchained: v.unchained}
	for _, st := range v.nodes {
		rep.Nodes = append(rep.Nodes, st.AuditNodeReport)
	}
	sort.Slice(rep.Nodes, func(i, j int) bool { return rep.Nodes[i].Node < rep.Nodes[j].Node })
	return rep
}

// VerifyAudit checks every row of the audit log against its chain,
// reading the rows in chain order (a stream, not the whole log in
// memory). The first row that does not fit is an *AuditChainError.
func (s *Store) VerifyAudit(ctx context.Context, keys []ed25519.PublicKey) (AuditReport, error) {
	v := &AuditVerifier{Keys: keys}
	err := s.EachAuditRecord(ctx, func(r AuditRecord) error { return v.Add(r, 0) })
	return v.Finish(), err
}

// EachAuditRecord calls f with every audit row, the chained ones by node
// and seq after the unchained ones; an error from f stops it and is
// returned.
func (s *Store) EachAuditRecord(ctx context.Context, f func(AuditRecord) error) error {
	rows, err := s.conn.Query(ctx, `SELECT ts, ts_ms, actor, role, action, target, detail, client, node, seq, prev_hash, hash, signature
FROM audit_log ORDER BY node, seq, ts, ts_ms`)
	if err != nil {
		return fmt.Errorf("analytics: read audit log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			r  AuditRecord
			ts time.Time
			ms uint16
		)
		if err := rows.Scan(&ts, &ms, &r.Actor, &r.Role, &r.Action, &r.Target, &r.Detail, &r.Client, &r.Node, &r.Seq, &r.PrevHash, &r.Hash, &r.Signature); err != nil {
			return fmt.Errorf("analytics: read audit log: %w", err)
		}
		r.TS = joinTime(ts, ms)
		if err := f(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("analytics: read audit log: %w", err)
	}
	return nil
}

// The audit export file: NDJSON, one row per line, in the order
// EachAuditRecord reads them:
//
//	{"ts_ms":1764...,"actor":"li","role":"auditor","action":"clip","target":"CM-7",
//	 "detail":"...","client":"127.0.0.1","node":"n-…","seq":12,
//	 "prev_hash":"…","hash":"…","signature":""}
//
// ts_ms is Unix milliseconds. A string that is not valid UTF-8 (stored
// bytes are hashed as they are) is written as {"base64": "..."} instead of
// a JSON string, so that the file keeps every byte.

type auditLine struct {
	TSMs      int64     `json:"ts_ms"`
	Actor     rawString `json:"actor"`
	Role      rawString `json:"role"`
	Action    rawString `json:"action"`
	Target    rawString `json:"target"`
	Detail    rawString `json:"detail"`
	Client    rawString `json:"client"`
	Node      rawString `json:"node"`
	Seq       uint64    `json:"seq"`
	PrevHash  string    `json:"prev_hash"`
	Hash      string    `json:"hash"`
	Signature string    `json:"signature"`
}

// rawString is a string that survives JSON byte for byte.
type rawString string

func (s rawString) MarshalJSON() ([]byte, error) {
	if utf8.ValidString(string(s)) {
		return json.Marshal(string(s))
	}
	return json.Marshal(map[string]string{"base64": base64.StdEncoding.EncodeToString([]byte(s))})
}

func (s *rawString) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		*s = rawString(str)
		return nil
	}
	var obj struct {
		Base64 *string `json:"base64"`
	}
	if err := json.Unmarshal(b, &obj); err != nil || obj.Base64 == nil {
		return errors.New(`a string or {"base64": "..."}`)
	}
	raw, err := base64.StdEncoding.DecodeString(*obj.Base64)
	if err != nil {
		return fmt.Errorf("base64: %w", err)
	}
	*s = rawString(raw)
	return nil
}

// AuditRecordJSON encodes r as one line of the export file (no newline).
func AuditRecordJSON(r AuditRecord) ([]byte, error) {
	return json.Marshal(auditLine{TSMs: r.TS.UnixMilli(), Actor: rawString(r.Actor), Role: rawString(r.Role), Action: rawString(r.Action),
		Target: rawString(r.Target), Detail: rawString(r.Detail), Client: rawString(r.Client), Node: rawString(r.Node), Seq: r.Seq,
		PrevHash: r.PrevHash, Hash: r.Hash, Signature: r.Signature})
}

// ParseAuditRecordJSON decodes one line of the export file.
func ParseAuditRecordJSON(b []byte) (AuditRecord, error) {
	var l auditLine
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return AuditRecord{}, err
	}
	return AuditRecord{AuditEntry: AuditEntry{TS: time.UnixMilli(l.TSMs).UTC(), Actor: string(l.Actor), Role: string(l.Role),
		Action: string(l.Action), Target: string(l.Target), Detail: string(l.Detail), Client: string(l.Client)},
		Node: string(l.Node), Seq: l.Seq, PrevHash: l.PrevHash, Hash: l.Hash, Signature: l.Signature}, nil
}

// ExportAudit writes every audit row to w in the export format.
func (s *Store) ExportAudit(ctx context.Context, w io.Writer) (int, error) {
	bw := bufio.NewWriter(w)
	n := 0
	err := s.EachAuditRecord(ctx, func(r AuditRecord) error {
		b, err := AuditRecordJSON(r)
		if err != nil {
			return err
		}
		n++
		bw.Write(b)
		return bw.WriteByte('\n')
	})
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// VerifyAuditFile checks the rows of an export file. A line that cannot
// be read, like a row that does not fit, names its line.
func VerifyAuditFile(r io.Reader, keys []ed25519.PublicKey) (AuditReport, error) {
	v := &AuditVerifier{Keys: keys}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		rec, err := ParseAuditRecordJSON(sc.Bytes())
		if err != nil {
			return v.Finish(), fmt.Errorf("line %d: not an audit row: %w", line, err)
		}
		if err := v.Add(rec, line); err != nil {
			return v.Finish(), err
		}
	}
	if err := sc.Err(); err != nil {
		return v.Finish(), fmt.Errorf("line %d: %w", line+1, err)
	}
	return v.Finish(), nil
}
