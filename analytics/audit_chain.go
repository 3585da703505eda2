package analytics

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/sunlight-gov/sunlight/internal/nodekey"
)

// The tamper-evident audit log.
//
// Every row a node writes is a link of that node's hash chain. The node
// is named by its key (nodekey.ID of its Ed25519 public key), its rows
// are numbered seq = 1, 2, ... and each carries prev_hash, the hash of the
// row before it (32 zero bytes for seq 1, the genesis row), and hash, the
// SHA-256 of the row's canonical encoding (version 1):
//
//	"sunlight-audit-v1" 0x00
//	node                      string
//	seq                       uint64, big-endian
//	ts                        int64 big-endian, Unix milliseconds (UTC)
//	actor, role, action, target, detail, client   strings, in this order
//	prev_hash                 32 bytes
//
// where a string is its length (uint32, big-endian) then its bytes as
// stored (no normalisation). Hashes are stored in lowercase hex.
//
// A change to any field of a row changes its hash, and a stored hash
// changed to match breaks the next row's prev_hash; rewriting every hash
// from a row to the end is what the checkpoints stop: every so often
// (and at shutdown) the node appends a checkpoint row (action
// audit_checkpoint, actor "sunlight", target its node ID, detail the seq
// and hash of the row it anchors), whose signature column holds the
// node's Ed25519 signature of
//
//	"sunlight-audit-checkpoint-v1" 0x00 || the checkpoint row's 32-byte hash
//
// Without the node key the rows up to the last checkpoint cannot be
// rewritten undetected; rows after it are protected by the chain alone,
// and the rows at its very end could be dropped unnoticed (audit verify
// reports how many rows follow the last checkpoint). The signature is not
// part of the hash.
//
// One process appends to a node's chain: one goroutine of the Store
// appends (see auditChain), the head (seq and hash) is read from
// ClickHouse before the first append and again after an insert that
// failed (it may have been stored anyway). Two processes with the same node key on one database would
// fork the chain: give each node its own data_dir.
//
// Rows written before the chain existed (migration 0013) have seq 0 and
// no hashes: audit verify counts them as unchained and checks nothing
// about them; each node's chain starts at its own genesis row.

// AuditRecord is an audit row with its place in its node's chain.
type AuditRecord struct {
	AuditEntry
	Node     string
	Seq      uint64
	PrevHash string // hex; 64 zeros for seq 1
	Hash     string // hex
	// Signature is the hex Ed25519 signature of a checkpoint row; empty
	// on other rows.
	Signature string
}

// ActionAuditCheckpoint is the action of checkpoint rows.
const ActionAuditCheckpoint = "audit_checkpoint"

// genesisPrev is the prev_hash of a chain's first row.
var genesisPrev = hex.EncodeToString(make([]byte, sha256.Size))

// auditEncoding is the canonical encoding of a row (see above). prevHash
// must be 32 bytes.
func auditEncoding(r *AuditRecord, prevHash []byte) []byte {
	b := make([]byte, 0, 128+len(r.Detail))
	b = append(b, "sunlight-audit-v1\x00"...)
	str := func(s string) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	str(r.Node)
	b = binary.BigEndian.AppendUint64(b, r.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(r.TS.UnixMilli()))
	for _, s := range []string{r.Actor, r.Role, r.Action, r.Target, r.Detail, r.Client} {
		str(s)
	}
	return append(b, prevHash...)
}

// ComputeHash returns the hash r's content gives (hex), from its fields
// and PrevHash; an error if PrevHash is not 32 bytes of hex.
func (r *AuditRecord) ComputeHash() (string, error) {
	prev, err := hex.DecodeString(r.PrevHash)
	if err != nil || len(prev) != sha256.Size {
		return "", fmt.Errorf("prev_hash %q is not a hex SHA-256", truncate(r.PrevHash, 80))
	}
	sum := sha256.Sum256(auditEncoding(r, prev))
	return hex.EncodeToString(sum[:]), nil
}

// checkpointMessage is what a checkpoint's signature signs.
func checkpointMessage(hash []byte) []byte {
	return append([]byte("sunlight-audit-checkpoint-v1\x00"), hash...)
}

// VerifySignature checks a checkpoint row's signature of its hash with pub.
func (r *AuditRecord) VerifySignature(pub ed25519.PublicKey) bool {
	h, err1 := hex.DecodeString(r.Hash)
	sig, err2 := hex.DecodeString(r.Signature)
	return err1 == nil && err2 == nil && len(h) == sha256.Size && ed25519.Verify(pub, checkpointMessage(h), sig)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// auditChain is this process's chain: one goroutine (run, started by
// OpenStore and stopped by Store.Close) owns the head and appends the
// rows, in the order they are asked for; rows asked for while an insert
// is under way go into the next insert together (a group commit), so a
// burst of audited requests costs one ClickHouse insert per round trip,
// not one per row.
type auditChain struct {
	key  ed25519.PrivateKey
	node string

	reqs chan *auditAppend
	quit chan struct{} // closed by stop
	done chan struct{} // closed when run returns

	// Owned by run.
	loaded          bool   // seq, head and sinceCheckpoint hold the stored head
	seq             uint64 // of the last row
	head            string // hex hash of row seq
	sinceCheckpoint int    // rows after the last checkpoint
}

// auditAppend is one row to append (or a checkpoint) and its result.
type auditAppend struct {
	e          AuditEntry
	checkpoint bool // sign the row; skipped (ok false) when there is nothing to anchor
	rec        AuditRecord
	ok         bool
	err        error
	done       chan struct{} // closed by run with the result set
}

// maxAuditBatch bounds the rows of one insert.
const maxAuditBatch = 1000

// errStoreClosed answers appends after Close.
var errStoreClosed = errors.New("analytics: store closed")

func newAuditChain(key ed25519.PrivateKey) (*auditChain, error) {
	if key == nil {
		// A test store: a chain of its own, never seen again.
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("analytics: audit key: %w", err)
		}
		key = k
	}
	return &auditChain{key: key, node: nodekey.ID(key.Public().(ed25519.PublicKey)),
		reqs: make(chan *auditAppend), quit: make(chan struct{}), done: make(chan struct{})}, nil
}

// run appends the rows asked for until stop.
func (s *Store) runAuditChain() {
	c := s.chain
	defer close(c.done)
	for {
		var batch []*auditAppend
		select {
		case <-c.quit:
			return
		case a := <-c.reqs:
			batch = append(batch, a)
		}
	more:
		for len(batch) < maxAuditBatch {
			select {
			case a := <-c.reqs:
				batch = append(batch, a)
			default:
				break more
			}
		}
		s.appendBatch(batch)
	}
}

// stopAuditChain ends run once its current insert is done.
func (s *Store) stopAuditChain() {
	close(s.chain.quit)
	<-s.chain.done
}

// AuditNode returns the node ID under which this store chains its audit
// rows, and the public key that verifies its checkpoints.
func (s *Store) AuditNode() (string, ed25519.PublicKey) {
	return s.chain.node, s.chain.key.Public().(ed25519.PublicKey)
}

// loadHead reads the node's last row and how many rows follow its last
// checkpoint. Called by run.
func (s *Store) loadHead(ctx context.Context) error {
	c := s.chain
	var (
		seq  uint64
		hash string
		cp   uint64
	)
	err := s.conn.QueryRow(ctx, `SELECT max(seq), argMax(hash, seq), maxIf(seq, action = ?) FROM audit_log WHERE node = ? AND seq > 0`,
		ActionAuditCheckpoint, c.node).Scan(&seq, &hash, &cp)
	if err != nil {
		return fmt.Errorf("analytics: read the audit chain's head: %w", err)
	}
	c.seq, c.head, c.sinceCheckpoint = seq, hash, int(seq-cp)
	if seq == 0 {
		c.head = genesisPrev
	}
	c.loaded = true
	return nil
}

// AppendAudit appends e to the audit log as the next row of this node's
// chain and returns the stored row. A zero TS means now; Action is
// required. If ctx ends first, the row may still be written.
func (s *Store) AppendAudit(ctx context.Context, e AuditEntry) (AuditRecord, error) {
	if e.Action == "" {
		return AuditRecord{}, errors.New("analytics: audit entry without action")
	}
	if e.TS.IsZero() {
		e.TS = s.now()
	}
	if _, _, ok := timeParts(e.TS); !ok {
		return AuditRecord{}, fmt.Errorf("analytics: audit entry time %s is out of range", e.TS)
	}
	e.TS = e.TS.Truncate(time.Millisecond).UTC()
	a, err := s.askAudit(ctx, &auditAppend{e: e})
	if err != nil {
		return AuditRecord{}, err
	}
	return a.rec, a.err
}

func (s *Store) askAudit(ctx context.Context, a *auditAppend) (*auditAppend, error) {
	c := s.chain
	a.done = make(chan struct{})
	select {
	case c.reqs <- a:
	case <-c.quit:
		return nil, errStoreClosed
	case <-ctx.Done():
		return nil, fmt.Errorf("analytics: write audit entry: %w", ctx.Err())
	}
	select {
	case <-a.done:
		return a, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("analytics: write audit entry: %w", ctx.Err())
	}
}

// appendBatch chains and inserts a batch in one statement, then answers
// every request of it. Called by run.
func (s *Store) appendBatch(batch []*auditAppend) {
	c := s.chain
	answer := func(err error) {
		for _, a := range batch {
			if err != nil {
				a.err, a.ok = err, false
			}
			close(a.done)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !c.loaded {
		if err := s.loadHead(ctx); err != nil {
			answer(err)
			return
		}
	}
	seq, head, since := c.seq, c.head, c.sinceCheckpoint
	var rows []AuditRecord
	for _, a := range batch {
		if a.checkpoint {
			if since == 0 {
				continue // nothing to anchor
			}
			a.e.Detail = fmt.Sprintf("seq=%d hash=%s", seq, head)
		}
		r := AuditRecord{AuditEntry: a.e, Node: c.node, Seq: seq + 1, PrevHash: head}
		hash, err := r.ComputeHash()
		if err != nil {
			answer(fmt.Errorf("analytics: audit chain head: %w", err))
			return
		}
		r.Hash = hash
		if a.checkpoint {
			h, _ := hex.DecodeString(hash)
			r.Signature = hex.EncodeToString(ed25519.Sign(c.key, checkpointMessage(h)))
			since = 0
		} else {
			since++
		}
		a.rec, a.ok = r, true
		rows = append(rows, r)
		seq, head = r.Seq, r.Hash
	}
	if len(rows) > 0 {
		if err := s.insertAudit(ctx, rows); err != nil {
			// The rows may be stored all the same: read the head again.
			c.loaded = false
			answer(err)
			return
		}
	}
	c.seq, c.head, c.sinceCheckpoint = seq, head, since
	answer(nil)
}

var auditChainColumns = append(auditColumns[:len(auditColumns):len(auditColumns)],
	column{"node", "String"}, column{"seq", "UInt64"}, column{"prev_hash", "String"}, column{"hash", "String"}, column{"signature", "String"})

func (s *Store) insertAudit(ctx context.Context, recs []AuditRecord) error {
	rows, err := newExternalTable(externalInsertTable, auditChainColumns)
	if err != nil {
		return err
	}
	for _, r := range recs {
		sec, ms, _ := timeParts(r.TS)
		if err := rows.Append(sec, ms, r.Actor, r.Role, r.Action, r.Target, r.Detail, r.Client, r.Node, r.Seq, r.PrevHash, r.Hash, r.Signature); err != nil {
			return fmt.Errorf("analytics: write audit entry: %w", err)
		}
	}
	return s.insertExternal(ctx, "audit_log", auditChainColumns, rows)
}

// CheckpointAudit appends a signed checkpoint row anchoring the chain's
// head, unless no row was appended since the last checkpoint (then ok is
// false and nothing is written).
func (s *Store) CheckpointAudit(ctx context.Context) (r AuditRecord, ok bool, err error) {
	e := AuditEntry{TS: s.now().Truncate(time.Millisecond).UTC(), Actor: "sunlight", Action: ActionAuditCheckpoint, Target: s.chain.node}
	a, err := s.askAudit(ctx, &auditAppend{e: e, checkpoint: true})
	if err != nil {
		return AuditRecord{}, false, err
	}
	return a.rec, a.ok, a.err
}
