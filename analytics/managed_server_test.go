package analytics_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/analytics/chtest"
)

// ping opens a fresh native connection to addr and pings it.
func ping(ctx context.Context, addr string) error {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol: clickhouse.Native, Addr: []string{addr}, DialTimeout: time.Second,
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return conn.Ping(ctx)
}

func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// processDead reports whether pid is gone or a zombie waiting to be reaped
// by whoever inherited it.
func processDead(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i >= 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X')
}

func TestManagedServerStartPingClose(t *testing.T) {
	srv := chtest.Server(t)
	require.NoError(t, ping(t.Context(), srv.Addr()))
	require.Equal(t, "127.0.0.1:"+strconv.Itoa(srv.TCPPort), srv.Addr())

	pid := srv.PID()
	require.NotZero(t, pid)
	require.False(t, processGone(pid))
	if _, err := exec.LookPath("nice"); err == nil {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		require.NoError(t, err)
		// After "(comm)": state ppid pgrp session tty tpgid flags minflt
		// cminflt majflt cmajflt utime stime cutime cstime priority nice.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		require.Equal(t, "10", fields[16], "clickhouse-server runs at nice 10")
	}

	cfg, err := os.ReadFile(filepath.Join(srv.Dir, "config", "config.xml"))
	require.NoError(t, err)
	require.Contains(t, string(cfg), "<listen_host>127.0.0.1</listen_host>")
	require.NotContains(t, string(cfg), "interserver_http_port")

	// Only 127.0.0.1 listens: the HTTP port is not reachable elsewhere, but
	// it answers on loopback.
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(srv.HTTPPort)), time.Second)
	require.NoError(t, err)
	require.NoError(t, c.Close())

	require.NoError(t, srv.Close())
	require.True(t, processGone(pid), "clickhouse-server pid %d still exists after Close", pid)
	require.Zero(t, srv.PID())
	require.NoError(t, srv.Close(), "second Close")
}

func TestManagedServerRestartsAfterKill(t *testing.T) {
	srv := chtest.Server(t)
	pid := srv.PID()
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))

	require.Eventually(t, func() bool {
		p := srv.PID()
		return p != 0 && p != pid && ping(t.Context(), srv.Addr()) == nil
	}, 15*time.Second, 100*time.Millisecond, "supervision did not bring clickhouse-server back")
	require.True(t, processGone(pid))

	newPID := srv.PID()
	require.NoError(t, srv.Close())
	require.True(t, processGone(newPID))
}

func TestManagedServerMissingBinary(t *testing.T) {
	for _, bin := range []string{"/nonexistent/clickhouse-server", "sunlight-no-such-clickhouse-server"} {
		t.Run(bin, func(t *testing.T) {
			srv := &analytics.ManagedServer{Binary: bin, Dir: t.TempDir()}
			err := srv.Start(t.Context())
			require.ErrorIs(t, err, analytics.ErrClickHouseNotInstalled)
			require.Contains(t, err.Error(), "sudo apt-get install clickhouse-server")
			require.Contains(t, err.Error(), "make deps")
			require.NoError(t, srv.Close())
		})
	}
}

func TestManagedServerReportsChildFailure(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "fake-clickhouse-server")
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\necho 'DB::Exception: fake start-up failure' >&2\nexit 3\n"), 0o755))

	srv := &analytics.ManagedServer{
		Binary: bin, Dir: filepath.Join(dir, "ch"),
		TCPPort: chtest.FreePort(t), HTTPPort: chtest.FreePort(t),
	}
	err := srv.Start(t.Context())
	require.Error(t, err)
	require.Contains(t, err.Error(), "exited during start-up")
	require.Contains(t, err.Error(), "fake start-up failure")
	require.Zero(t, srv.PID())
	require.NoError(t, srv.Close())
}

func TestManagedServerPortInUse(t *testing.T) {
	chtest.RequireInstalled(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()

	srv := &analytics.ManagedServer{
		Dir: t.TempDir(), TCPPort: ln.Addr().(*net.TCPAddr).Port, HTTPPort: chtest.FreePort(t),
	}
	err = srv.Start(t.Context())
	require.ErrorIs(t, err, analytics.ErrPortInUse)
	require.NoError(t, srv.Close())
}

// A clickhouse-server left running on the directory by an earlier run (whose
// parent-death signal did not fire) is stopped by the next Start.
func TestManagedServerStopsStaleServer(t *testing.T) {
	first := chtest.Server(t)
	dir, tcp, http := first.Dir, first.TCPPort, first.HTTPPort
	require.NoError(t, first.Close())

	argv, err := analytics.LookupClickHouseServer("")
	require.NoError(t, err)
	argv = append(argv, "--config-file="+filepath.Join(dir, "config", "config.xml"))
	stale := exec.Command(argv[0], argv[1:]...)
	stale.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	require.NoError(t, stale.Start())
	staleDone := make(chan error, 1)
	go func() { staleDone <- stale.Wait() }()
	t.Cleanup(func() {
		_ = stale.Process.Kill()
		<-staleDone
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(tcp))
	require.Eventually(t, func() bool { return ping(t.Context(), addr) == nil }, 30*time.Second, 100*time.Millisecond)

	second := &analytics.ManagedServer{Dir: dir, TCPPort: tcp, HTTPPort: http}
	require.NoError(t, second.Start(t.Context()))
	defer second.Close()

	select {
	case <-staleDone:
		staleDone <- nil // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("the stale clickhouse-server was not stopped")
	}
	require.NotEqual(t, stale.Process.Pid, second.PID())
	require.NoError(t, ping(t.Context(), second.Addr()))
	require.NoError(t, second.Close())
}

func TestLookupClickHouseServer(t *testing.T) {
	chtest.RequireInstalled(t)
	argv, err := analytics.LookupClickHouseServer("")
	require.NoError(t, err)
	require.True(t, strings.Contains(filepath.Base(argv[0]), "clickhouse"), argv)
}

// helperDirEnv tells the test binary, run again as a child, to act as a
// Sunlight that starts a managed server in that directory and then hangs.
const helperDirEnv = "SUNLIGHT_TEST_MANAGED_HELPER_DIR"

func TestManagedServerHelperProcess(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		t.Skip("helper process for TestManagedServerDiesWithParent")
	}
	tcp, _ := strconv.Atoi(os.Getenv(helperDirEnv + "_TCP"))
	http, _ := strconv.Atoi(os.Getenv(helperDirEnv + "_HTTP"))
	srv := &analytics.ManagedServer{Dir: dir, TCPPort: tcp, HTTPPort: http}
	if err := srv.Start(t.Context()); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	fmt.Printf("PID=%d\n", srv.PID())
	select {} // until killed
}

// A kill -9 of Sunlight must not leave its clickhouse-server running.
func TestManagedServerDiesWithParent(t *testing.T) {
	chtest.RequireInstalled(t)
	helper := exec.Command(os.Args[0], "-test.run=^TestManagedServerHelperProcess$")
	helper.Env = append(os.Environ(),
		helperDirEnv+"="+t.TempDir(),
		helperDirEnv+"_TCP="+strconv.Itoa(chtest.FreePort(t)),
		helperDirEnv+"_HTTP="+strconv.Itoa(chtest.FreePort(t)))
	out, err := helper.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, helper.Start())
	killed := false
	defer func() {
		if !killed {
			_ = helper.Process.Kill()
			_ = helper.Wait()
		}
	}()

	pid := 0
	sc := bufio.NewScanner(out)
	for pid == 0 && sc.Scan() {
		line := sc.Text()
		require.NotContains(t, line, "ERROR")
		if rest, ok := strings.CutPrefix(line, "PID="); ok {
			pid, err = strconv.Atoi(rest)
			require.NoError(t, err)
		}
	}
	require.NotZero(t, pid, "helper did not report the clickhouse-server pid")
	require.False(t, processDead(pid))
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	t.Logf("clickhouse pid %d: %q", pid, cmdline)

	require.NoError(t, helper.Process.Kill())
	_ = helper.Wait()
	killed = true
	require.Eventually(t, func() bool { return processDead(pid) }, 10*time.Second, 50*time.Millisecond,
		"clickhouse-server pid %d outlived its killed parent", pid)
}
