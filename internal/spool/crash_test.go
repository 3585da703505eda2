package spool

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	crashWriters  = 4
	crashMaxBatch = 40
)

// runCrashChild appends numbered records from crashWriters goroutines and
// prints "a W LAST" once records up to LAST of writer W are acknowledged; a
// consumer prints "c W FIRST LAST" once a batch holding them is committed.
// It runs until the parent kills it.
func runCrashChild(dir string) int {
	s, err := Open(Config{Dir: dir, SegmentBytes: 256 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var out sync.Mutex
	say := func(format string, args ...any) {
		out.Lock()
		fmt.Fprintf(os.Stdout, format+"\n", args...) // unbuffered: printed means sent
		out.Unlock()
	}
	ctx := context.Background()
	for w := 0; w < crashWriters; w++ {
		go func() {
			n := 0
			for {
				batch := make([][]byte, 1+rand.IntN(20))
				for i := range batch {
					batch[i] = []byte(fmt.Sprintf("w%d n%d %s", w, n+i, strings.Repeat("x", 180)))
				}
				if err := s.Append(ctx, batch); err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(1)
				}
				n += len(batch)
				say("a %d %d", w, n-1)
			}
		}()
	}
	for {
		b, err := s.Next(ctx, 1+rand.IntN(crashMaxBatch), 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, "next:", err)
			return 1
		}
		if err := s.Commit(b); err != nil {
			fmt.Fprintln(os.Stderr, "commit:", err)
			return 1
		}
		first, last := map[int]int{}, map[int]int{}
		for _, r := range b.Records {
			var w, n int
			fmt.Sscanf(string(r), "w%d n%d", &w, &n)
			if _, ok := first[w]; !ok {
				first[w] = n
			}
			last[w] = n
		}
		for w := range first {
			say("c %d %d %d", w, first[w], last[w])
		}
	}
}

// TestKill9LosesNothingAcknowledged SIGKILLs a child mid-stream and checks
// that every acknowledged record is in the reopened spool or was committed,
// each exactly once and in order.
func TestKill9LosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envCrashChild+"="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())

	acked := make([]int, crashWriters)          // highest acknowledged number per writer
	committed := make([]int, crashWriters)      // highest number printed as committed
	committedCount := make([]int, crashWriters) // how many were printed as committed
	for w := range acked {
		acked[w], committed[w] = -1, -1
	}
	total := 0
	killed := false
	killAt := 5_000 + rand.IntN(20_000) // a moment that depends on the run, mid-stream
	deadline := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var w, a, b int
		switch line := sc.Text(); {
		case strings.HasPrefix(line, "a "):
			_, err := fmt.Sscanf(line, "a %d %d", &w, &a)
			require.NoError(t, err, line)
			total += a - acked[w]
			acked[w] = a
		case strings.HasPrefix(line, "c "):
			_, err := fmt.Sscanf(line, "c %d %d %d", &w, &a, &b)
			require.NoError(t, err, line)
			require.Equal(t, committed[w]+1, a, "writer %d: the consumer got every record once, in order", w)
			committed[w] = b
			committedCount[w] += b - a + 1
		}
		if !killed && total > killAt {
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			killed = true
		}
	}
	err = cmd.Wait()
	require.True(t, killed, "child ended before the kill: %v\n%s", err, stderr.String())

	s := openT(t, Config{Dir: dir, SegmentBytes: 256 << 10})
	defer s.Close()
	got, _ := drain(t, s, 1000)
	found := make([][]int, crashWriters)
	for _, r := range got {
		var w, n int
		_, err := fmt.Sscanf(string(r), "w%d n%d", &w, &n)
		require.NoError(t, err)
		found[w] = append(found[w], n)
	}
	unprinted := 0
	for w := 0; w < crashWriters; w++ {
		ns := found[w]
		if len(ns) == 0 {
			require.LessOrEqual(t, acked[w], committed[w]+crashMaxBatch, "writer %d", w)
			continue
		}
		for i := 1; i < len(ns); i++ {
			require.Equal(t, ns[i-1]+1, ns[i], "writer %d: no record lost or repeated", w)
		}
		require.Greater(t, ns[0], committed[w], "writer %d: nothing committed is delivered again", w)
		require.GreaterOrEqual(t, ns[len(ns)-1], acked[w], "writer %d: every acknowledged record survived", w)
		// Records between the last printed commit and the first pending one
		// were committed by the batch whose print the kill cut off.
		unprinted += ns[0] - committed[w] - 1
	}
	require.LessOrEqual(t, unprinted, crashMaxBatch, "at most one committed batch went unprinted")
	t.Logf("acknowledged %d records (%v), %d pending after the kill, %d committed unprinted", total, acked, len(got), unprinted)
}
