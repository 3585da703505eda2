package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/internal/config"
	"github.com/sunlight-gov/sunlight/internal/nodekey"
)

const auditUsage = `sunlight audit verify (--config FILE | --file EXPORT) [--pubkey FILE]
sunlight audit export --config FILE [--out FILE]
sunlight audit pubkey --config FILE`

// audit runs `sunlight audit verify|export|pubkey`.
func audit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New("a subcommand is required:\n" + auditUsage)}
	}
	switch args[0] {
	case "verify":
		return auditVerify(ctx, args[1:], stdout, stderr)
	case "export":
		return auditExport(ctx, args[1:], stdout, stderr)
	case "pubkey":
		return auditPubkey(args[1:], stdout, stderr)
	}
	return usageError{fmt.Errorf("unknown subcommand %q:\n%s", args[0], auditUsage)}
}

// errAuditBroken is the error of a verify that found a row that does not fit.
var errAuditBroken = errors.New("audit chain broken")

func auditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file: verify the audit log in its ClickHouse")
	file := fs.String("file", "", "an export file (sunlight audit export) to verify instead")
	pubkey := fs.String("pubkey", "", "the node's public key (PEM, from sunlight audit pubkey); default with --config: the node key in data_dir")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if (*configPath == "") == (*file == "") {
		return usageError{errors.New("give one of --config or --file")}
	}
	var keys []ed25519.PublicKey
	keySource := ""
	if *pubkey != "" {
		k, err := nodekey.ReadPublic(*pubkey)
		if err != nil {
			return fmt.Errorf("--pubkey: %w", err)
		}
		keys, keySource = append(keys, k), *pubkey
	}
	var (
		rep analytics.AuditReport
		err error
	)
	if *file != "" {
		f, ferr := os.Open(*file)
		if ferr != nil {
			return ferr
		}
		defer f.Close()
		rep, err = analytics.VerifyAuditFile(f, keys)
	} else {
		cfg, cerr := config.Load(*configPath)
		if cerr != nil {
			return cerr
		}
		if keys == nil {
			k, kerr := nodekey.Load(nodekey.Path(cfg.DataDir))
			switch {
			case kerr == nil:
				keys, keySource = append(keys, k.Public().(ed25519.PublicKey)), nodekey.Path(cfg.DataDir)
			case !errors.Is(kerr, os.ErrNotExist):
				return kerr
			}
		}
		store, closeStore, serr := openStoreCLI(ctx, cfg, stderr)
		if serr != nil {
			return serr
		}
		defer closeStore()
		rep, err = store.VerifyAudit(ctx, keys)
	}
	var ce *analytics.AuditChainError
	if err != nil && !errors.As(err, &ce) {
		return err
	}
	printAuditReport(stdout, rep, keys, keySource)
	if ce != nil {
		fmt.Fprintf(stdout, "FAILED: %v\n", ce)
		return fmt.Errorf("%w: %v", errAuditBroken, ce)
	}
	fmt.Fprintln(stdout, "OK: every chained row fits its chain")
	return nil
}

func printAuditReport(w io.Writer, rep analytics.AuditReport, keys []ed25519.PublicKey, keySource string) {
	for _, k := range keys {
		fmt.Fprintf(w, "key %s (node %s)\n", keySource, nodekey.ID(k))
	}
	if len(keys) == 0 {
		fmt.Fprintln(w, "no node key given (--pubkey): checkpoint signatures are not checked, only the hash chain")
	}
	for _, n := range rep.Nodes {
		sig := "signatures checked"
		if !n.SignaturesChecked {
			sig = "signatures NOT checked: no key for this node"
		}
		fmt.Fprintf(w, "node %s: %d rows, seq 1..%d, %d checkpoints (%s), last checkpoint at seq %d, %d rows after it (not yet anchored)\n",
			n.Node, n.Rows, n.Head, n.Checkpoints, sig, n.LastCheckpoint, n.Unanchored)
	}
	if rep.Unchained > 0 {
		fmt.Fprintf(w, "%d rows from before the chain existed (seq 0): not checked\n", rep.Unchained)
	}
}

func auditExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (required)")
	out := fs.String("out", "", "file to write (default: standard output)")
	cfg, err := parseWithConfig(fs, args, configPath)
	if err != nil {
		return err
	}
	store, closeStore, err := openStoreCLI(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer closeStore()
	w := stdout
	if *out != "" {
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	n, err := store.ExportAudit(ctx, w)
	if err != nil {
		return err
	}
	if f, ok := w.(*os.File); ok && *out != "" {
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "%d audit rows written to %s\n", n, *out)
	}
	return nil
}

func auditPubkey(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit pubkey", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (required)")
	cfg, err := parseWithConfig(fs, args, configPath)
	if err != nil {
		return err
	}
	key, err := nodekey.LoadOrCreate(nodekey.Path(cfg.DataDir))
	if err != nil {
		return err
	}
	pub := key.Public().(ed25519.PublicKey)
	fmt.Fprintf(stderr, "node %s\n", nodekey.ID(pub))
	_, err = stdout.Write(nodekey.MarshalPublic(pub))
	return err
}

// openStoreCLI opens the config's ClickHouse for a command other than
// serve. With no address configured it uses the managed server that a
// running serve started, or starts one itself for the command's time.
func openStoreCLI(ctx context.Context, cfg *config.Config, stderr io.Writer) (*analytics.Store, func(), error) {
	log := newLogger(io.Discard)
	sc := analytics.StoreConfig{Addr: cfg.ClickHouse.Addr, Database: cfg.ClickHouse.Database,
		Username: cfg.ClickHouse.Username, Password: cfg.ClickHouse.Password, Logger: log, Cluster: cfg.ClickHouse.Cluster}
	var stop func()
	if len(sc.Addr) == 0 {
		local := fmt.Sprintf("127.0.0.1:%d", cfg.ClickHouse.Managed.TCPPort)
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		s, err := analytics.OpenStore(pctx, analytics.StoreConfig{Addr: []string{local}, Database: sc.Database, Logger: log})
		cancel()
		if err == nil {
			return s, func() { _ = s.Close() }, nil
		}
		fmt.Fprintln(stderr, "starting the managed ClickHouse (no serve running)...")
		ch := &analytics.ManagedServer{
			Binary: cfg.ClickHouse.Managed.Binary, Dir: filepath.Join(cfg.DataDir, "clickhouse"),
			TCPPort: cfg.ClickHouse.Managed.TCPPort, HTTPPort: cfg.ClickHouse.Managed.HTTPPort,
			Logger: slog.New(slog.DiscardHandler),
		}
		if err := ch.Start(ctx); err != nil {
			return nil, nil, fmt.Errorf("managed clickhouse: %w", err)
		}
		sc.Addr, stop = []string{ch.Addr()}, func() { _ = ch.Close() }
	}
	s, err := analytics.OpenStore(ctx, sc)
	if err != nil {
		if stop != nil {
			stop()
		}
		return nil, nil, fmt.Errorf("clickhouse: %w", err)
	}
	return s, func() {
		_ = s.Close()
		if stop != nil {
			stop()
		}
	}, nil
}
