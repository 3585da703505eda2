package analytics

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// Defaults of ManagedServer.
const (
	DefaultManagedTCPPort      = 19000
	DefaultManagedHTTPPort     = 18123
	DefaultManagedStartTimeout = 60 * time.Second

	// managedStopTimeout is how long Close waits after SIGTERM before SIGKILL.
	managedStopTimeout = 15 * time.Second
	// Restart backoff of the supervisor: doubles from min to max, and starts
	// again from min once a child has run for managedStableAfter.
	managedMinBackoff  = 500 * time.Millisecond
	managedMaxBackoff  = 30 * time.Second
	managedStableAfter = time.Minute
)

// ManagedServer runs a private clickhouse-server child process for Sunlight.
//
// Start writes a minimal configuration under Dir (see managed_server_config.go),
// starts the child listening on 127.0.0.1 only, waits until it answers a
// native-protocol ping, and then supervises it: a child that dies while the
// server is not being closed is restarted with a capped exponential backoff.
// Close stops it. The zero value with Dir set works.
//
// The child runs in its own process group (so a Ctrl-C in a terminal reaches
// only Sunlight, which then stops the child in order) and receives SIGKILL if
// Sunlight dies (Linux parent-death signal), so a kill -9 of Sunlight leaves
// no orphan. A child left over from a crashed run of an older Sunlight that
// still holds Dir is found through the server's status file and stopped on
// Start.
type ManagedServer struct {
	// Binary is the server program. Default: "clickhouse-server" on PATH,
	// then /usr/sbin/clickhouse-server and /usr/bin/clickhouse-server (Debian
	// puts it in /usr/sbin, which is not on a normal user's PATH), then the
	// single-binary "clickhouse" (on PATH or /usr/bin) run as "clickhouse
	// server". A value with a slash is a path; one without is looked up on
	// PATH. If nothing is found Start returns ErrClickHouseNotInstalled.
	Binary string
	// Dir is the server's directory (required), e.g. <data_dir>/clickhouse.
	// The configuration goes to Dir/config, the data to Dir/data, the logs
	// to Dir/log.
	Dir string
	// TCPPort is the native-protocol port on 127.0.0.1. Default 19000.
	TCPPort int
	// HTTPPort is the HTTP port on 127.0.0.1. Default 18123.
	HTTPPort int
	// Logger receives start, stop and restart messages. Nil discards them.
	Logger *slog.Logger
	// StartTimeout bounds how long Start waits for the first ping. Default 60s.
	StartTimeout time.Duration
	// Niceness lowers the server's CPU priority below Sunlight's (nice(1)),
	// as a managed server shares the machine with the event intake: when
	// both want the cores, acknowledging events (an fsync away from done)
	// goes first and the analytics catch up. make bench, 10k events/s: p99
	// acknowledgement 16–19 ms at equal priority, 10–15 ms at 10. Default 10;
	// negative runs it at Sunlight's priority. Without a nice program on
	// PATH it runs at Sunlight's priority.
	Niceness int
	// Cluster makes the server one node of a ClickHouse cluster (the test
	// cluster of chcluster). Nil: a server of its own.
	Cluster *ClusterNode

	log    *slog.Logger
	layout managedLayout
	argv   []string // program and arguments of the child
	// niceArgv runs argv at a lower priority ("nice -n 10"), or is empty.
	niceArgv []string
	spawned  chan spawnResult // the supervisor's report of its first spawn

	mu sync.Mutex // guards the fields below
	// stop is closed by Close (or a failed Start): no more restarts. done is
	// closed when the supervisor goroutine has returned. Both are set once,
	// by Start, before the supervisor runs.
	stop, done chan struct{}
	// started is set by Start; Start may be called once.
	started bool
	// stopping is set once Close (or a failed Start) began stopping the
	// child; no child is spawned after it is set.
	stopping bool
	// supervised is set once Start saw the first child answer; before that
	// a child that exits ends the supervisor instead of being restarted.
	supervised bool
	// proc is the current child, nil between children.
	proc *os.Process
	// logOffsets are the sizes of the log files when the current child was
	// spawned, so that error tails show only its own output.
	logOffsets map[string]int64
}

// Addr returns the native-protocol address of the server, "127.0.0.1:<TCPPort>".
func (m *ManagedServer) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(m.tcpPort()))
}

// PID returns the process id of the current child, or 0 if none is running.
func (m *ManagedServer) PID() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc == nil {
		return 0
	}
	return m.proc.Pid
}

func (m *ManagedServer) tcpPort() int {
	if m.TCPPort == 0 {
		return DefaultManagedTCPPort
	}
	return m.TCPPort
}

func (m *ManagedServer) httpPort() int {
	if m.HTTPPort == 0 {
		return DefaultManagedHTTPPort
	}
	return m.HTTPPort
}

// Start prepares Dir, starts clickhouse-server and returns once it answers a
// native ping (or with an error that carries the tail of its error output).
// From then on the child is supervised until Close. Start may be called once;
// after a failed Start, Close is not needed.
func (m *ManagedServer) Start(ctx context.Context) error {
	m.mu.Lock()
	if m.started {
		m.mu.Unlock()
		return errors.New("managed clickhouse: Start called twice")
	}
	m.started = true
	m.mu.Unlock()

	m.log = m.Logger
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.log = m.log.With("component", "clickhouse-managed")
	if m.Dir == "" {
		return errors.New("managed clickhouse: Dir is required")
	}
	dir, err := filepath.Abs(m.Dir)
	if err != nil {
		return fmt.Errorf("managed clickhouse: %w", err)
	}
	argv, err := resolveClickHouseBinary(m.Binary)
	if err != nil {
		return err
	}
	m.layout = newManagedLayout(dir, m.tcpPort(), m.httpPort())
	m.layout.Cluster = m.Cluster
	m.argv = append(argv, "--config-file="+m.layout.configFile())
	m.niceArgv = nil
	if n := m.Niceness; n >= 0 {
		if n == 0 {
			n = 10
		}
		if nice, err := exec.LookPath("nice"); err == nil {
			m.niceArgv = []string{nice, "-n", strconv.Itoa(n)}
		} else {
			m.log.Info("no nice program: clickhouse-server runs at Sunlight's CPU priority")
		}
	}
	if err := m.layout.prepare(); err != nil {
		return err
	}
	if err := stopStaleServer(m.layout, m.log); err != nil {
		return err
	}
	for _, port := range []int{m.layout.TCPPort, m.layout.HTTPPort} {
		if err := checkPortFree(port); err != nil {
			return err
		}
	}

	timeout := m.StartTimeout
	if timeout <= 0 {
		timeout = DefaultManagedStartTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	m.mu.Lock()
	m.stop = make(chan struct{})
	m.done = make(chan struct{})
	m.spawned = make(chan spawnResult, 1)
	m.mu.Unlock()
	go m.supervise()
	first := <-m.spawned
	if first.err != nil {
		<-m.done
		return first.err
	}
	pid := first.pid

	if err := m.waitReady(ctx, first.exited); err != nil {
		tail := m.errorTail()
		m.shutdown()
		if strings.Contains(tail, "Address already in use") {
			err = fmt.Errorf("%w: %w", ErrPortInUse, err)
		}
		return fmt.Errorf("managed clickhouse: %s did not become ready: %w%s", m.argv[0], err, formatTail(tail))
	}

	m.mu.Lock()
	if m.stopping { // Close ran concurrently with Start
		m.mu.Unlock()
		<-m.done
		return errors.New("managed clickhouse: closed while starting")
	}
	if m.proc == nil { // died right after answering, before supervision began
		m.mu.Unlock()
		tail := m.errorTail()
		m.shutdown()
		return fmt.Errorf("managed clickhouse: %s exited right after start-up%s", m.argv[0], formatTail(tail))
	}
	m.supervised = true
	m.mu.Unlock()
	m.log.Info("clickhouse-server ready", "addr", m.Addr(), "pid", pid, "dir", dir)
	return nil
}

// waitReady pings the child until it answers, it exits, or ctx ends.
func (m *ManagedServer) waitReady(ctx context.Context, exited <-chan struct{}) error {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol:    clickhouse.Native,
		Addr:        []string{m.Addr()},
		DialTimeout: time.Second,
		ReadTimeout: 5 * time.Second,
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		lastErr = conn.Ping(pctx)
		pcancel()
		if lastErr == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("clickhouse-server exited during start-up")
		case <-ctx.Done():
			return fmt.Errorf("%w (last ping: %v)", ctx.Err(), lastErr)
		case <-tick.C:
		}
	}
}

// Close stops the server: SIGTERM, up to 15 s for it to exit, then SIGKILL.
// It ends supervision and returns once the child has been reaped and the
// supervisor goroutine has returned. Close is safe to call more than once and
// on a server whose Start failed or was never called.
func (m *ManagedServer) Close() error {
	m.mu.Lock()
	started := m.started && m.done != nil
	m.mu.Unlock()
	if !started {
		return nil
	}
	m.shutdown()
	return nil
}

func (m *ManagedServer) shutdown() {
	m.mu.Lock()
	if !m.stopping {
		m.stopping = true
		close(m.stop)
	}
	proc := m.proc
	m.mu.Unlock()

	if proc != nil {
		// os.Process.Signal uses a pidfd on Linux, so it cannot hit a
		// recycled pid after the child has been reaped.
		if err := proc.Signal(syscall.SIGTERM); err == nil {
			m.log.Info("stopping clickhouse-server", "pid", proc.Pid)
		}
		timer := time.NewTimer(managedStopTimeout)
		defer timer.Stop()
		select {
		case <-m.done:
			return
		case <-timer.C:
			m.log.Warn("clickhouse-server did not stop after SIGTERM; killing it", "pid", proc.Pid, "waited", managedStopTimeout)
			_ = proc.Kill()
		}
	}
	<-m.done
}

// supervise owns the child processes: it spawns them, reaps them and restarts
// them when they die unexpectedly. It runs until stop is closed (or, before
// Start saw the first child ready, until that child exits).
func (m *ManagedServer) supervise() {
	// The parent-death signal is sent when the *thread* that started the
	// child exits, not the process. Pin this goroutine to its thread for its
	// whole life (never unlocked: the thread ends with the goroutine, after
	// the last child has been reaped) so that the Go runtime cannot retire
	// the thread while a child runs.
	runtime.LockOSThread()
	defer close(m.done)

	backoff := managedMinBackoff
	first := true
	for {
		cmd, exited, err := m.spawn()
		if first {
			first = false
			res := spawnResult{err: err}
			if err == nil {
				res.pid, res.exited = cmd.Process.Pid, exited
			}
			m.spawned <- res
			if err != nil {
				return
			}
		} else if err != nil {
			if errors.Is(err, errStopping) {
				return
			}
			m.log.Error("restarting clickhouse-server failed", "err", err, "retry_in", backoff)
		}

		if err == nil {
			startedAt := time.Now()
			waitErr := cmd.Wait()
			m.mu.Lock()
			m.proc = nil
			stopping, supervised := m.stopping, m.supervised
			m.mu.Unlock()
			close(exited)
			if stopping {
				m.log.Info("clickhouse-server stopped", "pid", cmd.Process.Pid, "status", exitStatus(waitErr))
				return
			}
			if !supervised {
				return // Start reports the failure
			}
			if time.Since(startedAt) >= managedStableAfter {
				backoff = managedMinBackoff
			}
			m.log.Error("clickhouse-server exited unexpectedly; restarting",
				"pid", cmd.Process.Pid, "status", exitStatus(waitErr), "ran", time.Since(startedAt).Round(time.Millisecond),
				"restart_in", backoff, "log_tail", m.errorTail())
		}

		timer := time.NewTimer(backoff)
		select {
		case <-m.stop:
			timer.Stop()
			return
		case <-timer.C:
		}
		backoff = min(backoff*2, managedMaxBackoff)
	}
}

var errStopping = errors.New("managed clickhouse: stopping")

// spawnResult is what the supervisor tells Start about the first child.
type spawnResult struct {
	pid    int
	exited <-chan struct{} // closed when the child has been reaped
	err    error
}

// spawn starts one child. It holds mu while starting so that Close either
// sees the new child or prevents it.
func (m *ManagedServer) spawn() (*exec.Cmd, chan struct{}, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopping {
		return nil, nil, errStopping
	}
	if err := truncateIfLarger(m.layout.stderrFile(), 10<<20); err != nil {
		return nil, nil, err
	}
	out, err := os.OpenFile(m.layout.stderrFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, nil, fmt.Errorf("managed clickhouse: %w", err)
	}
	defer out.Close() // the child has its own descriptor
	m.logOffsets = map[string]int64{
		m.layout.stderrFile(): fileSize(m.layout.stderrFile()),
		m.layout.errLogFile(): fileSize(m.layout.errLogFile()),
	}

	argv := append(append([]string(nil), m.niceArgv...), m.argv...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = m.layout.Dir
	cmd.Stdout = out
	cmd.Stderr = out
	// Current releases start a watchdog (a parent process that restarts the
	// server) in some modes; we are the watchdog.
	cmd.Env = append(os.Environ(), "CLICKHOUSE_WATCHDOG_ENABLE=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("managed clickhouse: start %s: %w", m.argv[0], err)
	}
	m.proc = cmd.Process
	m.log.Info("clickhouse-server started", "pid", cmd.Process.Pid, "addr", m.Addr())
	return cmd, make(chan struct{}), nil
}

// errorTail returns the last lines the current (or last) child wrote to its
// stderr and error log since it was spawned.
func (m *ManagedServer) errorTail() string {
	m.mu.Lock()
	offsets := m.logOffsets
	m.mu.Unlock()
	var parts []string
	for _, name := range []string{m.layout.stderrFile(), m.layout.errLogFile()} {
		if t := tailFile(name, offsets[name], 20); t != "" {
			parts = append(parts, filepath.Base(name)+":\n"+t)
		}
	}
	return strings.Join(parts, "\n")
}

func formatTail(tail string) string {
	if tail == "" {
		return ""
	}
	return "\n" + tail
}

// tailFile returns up to n last lines of name after offset (at most 8 KiB).
func tailFile(name string, offset int64, n int) string {
	f, err := os.Open(name)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	if st.Size() < offset { // rotated or truncated
		offset = 0
	}
	if st.Size()-offset > 8<<10 {
		offset = st.Size() - 8<<10
	}
	buf := make([]byte, st.Size()-offset)
	if _, err := f.ReadAt(buf, offset); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(buf), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

func fileSize(name string) int64 {
	st, err := os.Stat(name)
	if err != nil {
		return 0
	}
	return st.Size()
}

func truncateIfLarger(name string, limit int64) error {
	if fileSize(name) > limit {
		if err := os.Truncate(name, 0); err != nil {
			return fmt.Errorf("managed clickhouse: %w", err)
		}
	}
	return nil
}

func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// LookupClickHouseServer returns the program and leading arguments that run
// a clickhouse server, searched as ManagedServer.Binary documents (binary ""
// means the default search). It returns ErrClickHouseNotInstalled if none is
// found.
func LookupClickHouseServer(binary string) ([]string, error) {
	return resolveClickHouseBinary(binary)
}

func resolveClickHouseBinary(binary string) ([]string, error) {
	if binary != "" {
		p, err := exec.LookPath(binary) // also checks a path with a slash
		if err != nil {
			return nil, fmt.Errorf("%w (looked for %q: %v)", ErrClickHouseNotInstalled, binary, err)
		}
		if filepath.Base(p) == "clickhouse" {
			return []string{p, "server"}, nil
		}
		return []string{p}, nil
	}
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return []string{p}, nil
	}
	for _, p := range []string{"/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"} {
		if isExecutable(p) {
			return []string{p}, nil
		}
	}
	if p, err := exec.LookPath("clickhouse"); err == nil {
		return []string{p, "server"}, nil
	}
	if isExecutable("/usr/bin/clickhouse") {
		return []string{"/usr/bin/clickhouse", "server"}, nil
	}
	return nil, ErrClickHouseNotInstalled
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

func checkPortFree(port int) error {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("managed clickhouse: %w: 127.0.0.1:%d (another clickhouse-server or program listens there; choose other ports): %v", ErrPortInUse, port, err)
	}
	return ln.Close()
}

// stopStaleServer stops a clickhouse-server that still runs on this layout's
// data directory, left by a Sunlight that crashed in a way the parent-death
// signal did not cover (or an older version without it). clickhouse-server
// writes its pid to <path>/status and locks that file, so a second server on
// the same directory would fail with "Another server instance in same
// directory is already running". A process is only stopped if its command
// line names this layout's config file; otherwise the status file is stale
// and the pid belongs to someone else.
func stopStaleServer(l managedLayout, log *slog.Logger) error {
	pid := readStatusPID(l.statusFile())
	if pid <= 0 || pid == os.Getpid() {
		return nil
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte(l.configFile())) {
		return nil
	}
	log.Warn("stopping a clickhouse-server left running on this directory by an earlier run", "pid", pid, "dir", l.Dir)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("managed clickhouse: a clickhouse-server (pid %d) from an earlier run still holds %s and cannot be stopped: %w", pid, l.Dir, err)
	}
	deadline := time.Now().Add(managedStopTimeout)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			deadline = time.Now().Add(5 * time.Second)
			for processAlive(pid) {
				if time.Now().After(deadline) {
					return fmt.Errorf("managed clickhouse: a clickhouse-server (pid %d) from an earlier run still holds %s and does not die", pid, l.Dir)
				}
				time.Sleep(50 * time.Millisecond)
			}
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// readStatusPID reads "PID: <n>" from clickhouse-server's status file.
func readStatusPID(name string) int {
	f, err := os.Open(name)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "PID:"); ok {
			pid, err := strconv.Atoi(strings.TrimSpace(rest))
			if err == nil {
				return pid
			}
		}
	}
	return 0
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z' && stat[i+2] != 'X'
	}
	return true
}
