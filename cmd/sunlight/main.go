// Command sunlight runs the Sunlight platform (serve), a simulated service
// hall (simulate), user administration (user add), the checks of the
// audit chain (audit verify) and of evidence exports (verify-export), and
// makes a self-signed TLS certificate for a local HTTPS server (selfsigned).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/sunlight-gov/sunlight/internal/config"
)

const usage = `sunlight: live supervision of government service windows

Usage:
  sunlight serve    --config FILE
  sunlight simulate --config FILE --api-key KEY [--rtsp-listen 127.0.0.1:8554] [--backfill 30d] [--speed 1] [--always-open]
  sunlight user add --users FILE --username NAME --role ROLE   (password on stdin)
  sunlight audit verify (--config FILE | --file EXPORT) [--pubkey FILE]
  sunlight audit export --config FILE [--out FILE]
  sunlight audit pubkey --config FILE
  sunlight verify-export FILE [--pubkey FILE]
  sunlight selfsigned --cert FILE --key FILE [--hosts 127.0.0.1,localhost] [--days 365]
  sunlight version

Run "sunlight COMMAND -h" for a command's flags.
`

var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run dispatches a command and returns the exit code: 0 ok, 1 failure,
// 2 bad usage.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// The first signal asks for a clean shutdown; restoring the default
	// handling then lets a second Ctrl-C end a shutdown that hangs.
	go func() {
		<-ctx.Done()
		stop()
	}()
	stopProfile, err := startCPUProfile(os.Getenv("SUNLIGHT_CPU_PROFILE"))
	if err != nil {
		fmt.Fprintf(stderr, "sunlight: SUNLIGHT_CPU_PROFILE: %v\n", err)
		return 1
	}
	defer stopProfile()
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stderr)
	case "simulate":
		err = simulate(ctx, args[1:], stdout, stderr)
	case "user":
		err = user(args[1:], stdin, stdout, stderr)
	case "audit":
		err = audit(ctx, args[1:], stdout, stderr)
	case "verify-export":
		err = verifyExport(args[1:], stdout, stderr)
	case "selfsigned":
		err = selfSigned(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "sunlight", version)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "sunlight: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if ue, ok := err.(usageError); ok {
			fmt.Fprintf(stderr, "sunlight %s: %v\n", args[0], ue.error)
			return 2
		}
		fmt.Fprintf(stderr, "sunlight %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// startCPUProfile writes a CPU profile of the whole command to file (none
// for ""): for finding where a benchmark's server time goes, as in
// SUNLIGHT_CPU_PROFILE=/tmp/serve.pprof make bench.
func startCPUProfile(file string) (stop func(), err error) {
	if file == "" {
		return func() {}, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

// usageError marks a mistake in the command line (exit code 2).
type usageError struct{ error }

// parseWithConfig parses a command's flags, of which configPath is the
// required --config, and loads that configuration.
func parseWithConfig(fs *flag.FlagSet, args []string, configPath *string) (*config.Config, error) {
	if err := fs.Parse(args); err != nil {
		return nil, usageError{err}
	}
	if *configPath == "" {
		return nil, usageError{errors.New("--config is required")}
	}
	return config.Load(*configPath)
}

func newLogger(w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if os.Getenv("SUNLIGHT_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
