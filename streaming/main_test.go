package streaming

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if url := os.Getenv(envClientURL); url != "" {
		n, _ := strconv.Atoi(os.Getenv(envClients))
		os.Exit(runBenchClients(url, n))
	}
	dir, err := os.MkdirTemp("", "streaming-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testdataDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	if code == 0 {
		// Every session, peer and mux must be gone: goleak retries for a
		// while, as pion's last callbacks may still be returning.
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
