package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
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

	"github.com/sunlight-gov/sunlight/console"
	"github.com/sunlight-gov/sunlight/internal/freeport"
)

// The test binary doubles as the sunlight binary: with SUNLIGHT_BE_MAIN set
// it runs main, so the tests can start real processes and signal them.
func TestMain(m *testing.M) {
	if os.Getenv("SUNLIGHT_BE_MAIN") != "" {
		main()
		return
	}
	os.Exit(m.Run())
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := freeport.TCP()
	require.NoError(t, err)
	return p
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	p, err := freeport.UDP()
	require.NoError(t, err)
	return p
}

// requireChromium returns Debian's chromium; it skips the test without
// one, except in CI, where make deps installs it.
func requireChromium(t *testing.T) string {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is required in CI (make deps installs it)")
		}
		t.Skip("chromium is not installed (make deps)")
	}
	return chromium
}

// startSunlight runs the binary with args in the background; its output
// goes to a buffer shown when the test fails.
func startSunlight(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SUNLIGHT_BE_MAIN=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if t.Failed() {
			t.Logf("sunlight %s output:\n%s", args[0], out.String())
		}
	})
	return cmd
}

func writeConfig(t *testing.T, dir string, listen string, chPort, chHTTP, rtspPort int, extra ...string) string {
	t.Helper()
	cfg := fmt.Sprintf(`listen: %s
data_dir: ./data
webrtc:
  udp_port: %d
clickhouse:
  addr: []
  managed:
    tcp_port: %d
    http_port: %d
auth:
  users_file: ./users.yaml
  api_keys:
    - name: queue-system
      key_sha256: "79976adc394ed8f7463eb3ddd06382f7ed1e9626ba8ecb171acc00b12f63f0e9"
halls:
  - id: city-main
    name: 市政务服务中心主大厅
    tier: city
    windows:
      - id: A01
        department: 市场监管局
        items: [SC-001]
        camera: rtsp://127.0.0.1:%d/window/A01
      - id: A02
        department: 税务局
        items: [TX-001]
        camera: rtsp://127.0.0.1:%d/window/A02
items:
  - code: SC-001
    name: 企业设立登记
    name_en: Business registration
    department: 市场监管局
    time_limit_days: 3
  - code: TX-001
    name: 发票领用
    name_en: Invoice issuance
    department: 税务局
    time_limit_days: 1
departments:
  - name: 市场监管局
    name_en: Market Regulation
  - name: 税务局
    name_en: Taxation
`, listen, freeUDPPort(t), chPort, chHTTP, rtspPort, rtspPort)
	cfg += strings.Join(extra, "\n")
	path := filepath.Join(dir, "sunlight.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o644))
	return path
}

func waitHealthy(t *testing.T, url string, cmd *exec.Cmd, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if cmd.ProcessState != nil {
			t.Fatalf("server exited early: %v", cmd.ProcessState)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("/healthz not 200 within %s", within)
}

// processesMentioning lists the pids whose command line contains s.
func processesMentioning(t *testing.T, s string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if strings.Contains(string(cmdline), s) && !strings.Contains(string(cmdline), "SUNLIGHT_BE_MAIN") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestServeManagedClickHouse: serve with no clickhouse.addr starts its own
// clickhouse-server, becomes healthy, has migrated the schema, and leaves no
// clickhouse-server behind after SIGTERM.
func TestServeManagedClickHouse(t *testing.T) {
	if _, err := exec.LookPath("clickhouse-server"); err != nil && os.Getenv("CI") == "" {
		if _, err := os.Stat("/usr/sbin/clickhouse-server"); err != nil {
			t.Skip("clickhouse-server is not installed (make deps)")
		}
	}
	dir := t.TempDir()
	chPort, httpPort := freePort(t), freePort(t)
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfgPath := writeConfig(t, dir, listen, chPort, httpPort, 8554)
	serve := startSunlight(t, "serve", "--config", cfgPath)
	waitHealthy(t, "http://"+listen, serve, 90*time.Second)

	chDir := filepath.Join(dir, "data", "clickhouse")
	require.NotEmpty(t, processesMentioning(t, chDir), "a clickhouse-server runs with its config under the data dir")

	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{fmt.Sprintf("127.0.0.1:%d", chPort)}, Protocol: clickhouse.Native})
	require.NoError(t, err)
	rows, err := conn.Query(context.Background(), "SELECT name FROM system.tables WHERE database = 'sunlight'")
	require.NoError(t, err)
	tables := map[string]bool{}
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		tables[name] = true
	}
	require.NoError(t, rows.Err())
	conn.Close()
	for _, want := range []string{"schema_migrations", "events", "audit_log"} {
		require.True(t, tables[want], "table %s migrated; have %v", want, tables)
	}

	require.NoError(t, serve.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- serve.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "serve exits cleanly on SIGTERM")
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit within 30 s of SIGTERM")
	}
	require.Empty(t, processesMentioning(t, chDir), "no clickhouse-server of this serve remains")
}

func TestServeRefusesInvalidConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(path, []byte("listen: 127.0.0.1:8080\nhals: []\n"), 0o644))
	var stderr bytes.Buffer
	code := run([]string{"serve", "--config", path}, nil, &stderr, &stderr)
	require.Equal(t, 1, code)
	require.Contains(t, stderr.String(), `unknown key "hals"`)

	stderr.Reset()
	code = run([]string{"serve"}, nil, &stderr, &stderr)
	require.Equal(t, 2, code)
	require.Contains(t, stderr.String(), "--config is required")
}

func TestUserAdd(t *testing.T) {
	users := filepath.Join(t.TempDir(), "users.yaml")
	tests := []struct {
		name, stdin string
		args        []string
		code        int
		want        string
	}{
		{"ok", "correct-horse\n", []string{"--users", users, "--username", "alice", "--role", "auditor"}, 0, "user alice (auditor) saved"},
		{"bad role", "correct-horse\n", []string{"--users", users, "--username", "bob", "--role", "boss"}, 2, `unknown role "boss"`},
		{"no password", "", []string{"--users", users, "--username", "bob", "--role", "admin"}, 1, "no password on stdin"},
		{"short password", "short\n", []string{"--users", users, "--username", "bob", "--role", "admin"}, 1, "at least 8 characters (this one has 5)"},
		{"password is the name", "Inspector07\n", []string{"--users", users, "--username", "inspector07", "--role", "inspector"}, 1, `must not be the user name "inspector07"`},
		{"name backwards", "70rotcepsni\n", []string{"--users", users, "--username", "inspector07", "--role", "inspector"}, 1, "must not be the user name"},
		{"one character", "aaaaaaaaaa\n", []string{"--users", users, "--username", "bob", "--role", "admin"}, 1, "one character repeated"},
		{"common password", "Password123\n", []string{"--users", users, "--username", "bob", "--role", "admin"}, 1, "commonest passwords"},
		{"too long", strings.Repeat("x", 257) + "y\n", []string{"--users", users, "--username", "bob", "--role", "admin"}, 1, "at most 256 bytes"},
		{"missing username", "correct-horse\n", []string{"--users", users, "--role", "admin"}, 2, "--username is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			code := run(append([]string{"user", "add"}, tt.args...), strings.NewReader(tt.stdin), &out, &out)
			require.Equal(t, tt.code, code, out.String())
			require.Contains(t, out.String(), tt.want)
		})
	}
	u, err := console.LoadUsers(users)
	require.NoError(t, err)
	_, ok := u.Authenticate("alice", "correct-horse")
	require.True(t, ok)
	_, ok = u.Authenticate("alice", "wrong-horse")
	require.False(t, ok)
	data, err := os.ReadFile(users)
	require.NoError(t, err)
	require.Contains(t, string(data), "$argon2id$")
	require.NotContains(t, string(data), "correct-horse")
	info, err := os.Stat(users)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}

func TestParseSpan(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "30d": 30 * 24 * time.Hour, "12h": 12 * time.Hour, "90m": 90 * time.Minute} {
		got, err := parseSpan(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"xd", "-1d", "soon", "-5m"} {
		_, err := parseSpan(bad)
		require.Error(t, err, bad)
	}
}
