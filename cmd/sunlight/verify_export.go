package main

import (
	"bufio"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/evidence"
	"github.com/sunlight-gov/sunlight/internal/nodekey"
)

// errExportInvalid is the error of an export that does not verify.
var errExportInvalid = errors.New("the export does not verify")

// verifyExport runs `sunlight verify-export FILE [--pubkey FILE]`: an
// offline check of an evidence zip (see package evidence).
func verifyExport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify-export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pubkey := fs.String("pubkey", "", "the node's public key (PEM, from sunlight audit pubkey); default: the zip's own node.pub, which proves integrity, not origin")
	auditFile := fs.String("audit", "", "an audit export (sunlight audit export) made after the export: check that the export's audit row is in its verified chain")
	// The file may come before or after the flags.
	var file string
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		file, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	} else if fs.NArg() > 0 || file == "" {
		return usageError{errors.New("give one export file: sunlight verify-export FILE [--pubkey FILE]")}
	}
	var pub ed25519.PublicKey
	if *pubkey != "" {
		k, err := nodekey.ReadPublic(*pubkey)
		if err != nil {
			return fmt.Errorf("--pubkey: %w", err)
		}
		pub = k
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	res, err := evidence.Verify(f, st.Size(), pub)
	if err != nil {
		fmt.Fprintf(stdout, "FAILED: %v\n", err)
		return fmt.Errorf("%w: %v", errExportInvalid, err)
	}
	m := res.Manifest
	fmt.Fprintf(stdout, "case %s, exported %s by %s (reason %q)\n", m.Case.ID, m.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"), m.Case.ExportedBy, m.Case.Reason)
	for _, fl := range m.Files {
		fmt.Fprintf(stdout, "  %s  %d bytes  sha256 %s  ok\n", fl.Name, fl.Size, fl.SHA256)
	}
	fmt.Fprintf(stdout, "audit row: node %s seq %d hash %s\n", res.Audit.Node, res.Audit.Seq, res.Audit.Hash)
	if *auditFile != "" {
		if err := auditRowInChain(*auditFile, res, pub); err != nil {
			fmt.Fprintf(stdout, "FAILED: %v\n", err)
			return fmt.Errorf("%w: %v", errExportInvalid, err)
		}
		fmt.Fprintf(stdout, "the audit row is row %d of node %s's chain in %s, which verifies\n", res.Audit.Seq, res.Audit.Node, *auditFile)
	} else {
		fmt.Fprintln(stdout, "(that the row is in the chain: sunlight audit verify, or --audit with an audit export)")
	}
	if res.KeyFromZip {
		fmt.Fprintf(stdout, "WARNING: checked with the key inside the zip (node %s): this proves the zip is intact, not that this node made it; pass --pubkey with the node's key (sunlight audit pubkey)\n", nodekey.ID(res.Key))
	} else {
		fmt.Fprintf(stdout, "signed by node %s\n", nodekey.ID(res.Key))
	}
	fmt.Fprintln(stdout, "OK: the signature and every file verify")
	return nil
}

// auditRowInChain checks that the audit export at path verifies (with pub,
// if given) and holds the export's audit row as it is in the manifest.
func auditRowInChain(path string, res *evidence.Result, pub ed25519.PublicKey) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var keys []ed25519.PublicKey
	if pub != nil {
		keys = append(keys, pub)
	}
	v := &analytics.AuditVerifier{Keys: keys}
	found := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for line := 1; sc.Scan(); line++ {
		r, err := analytics.ParseAuditRecordJSON(sc.Bytes())
		if err != nil {
			return fmt.Errorf("%s: line %d: not an audit row: %w", path, line, err)
		}
		if err := v.Add(r, line); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if r.Node == res.Audit.Node && r.Seq == res.Audit.Seq {
			if r.Hash != res.Audit.Hash {
				return fmt.Errorf("%s: line %d: row %d of node %s has hash %s, the export's audit row %s", path, line, r.Seq, r.Node, r.Hash, res.Audit.Hash)
			}
			found = true
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if !found {
		return fmt.Errorf("%s has no row %d of node %s: export the audit log after the evidence", path, res.Audit.Seq, res.Audit.Node)
	}
	return nil
}
