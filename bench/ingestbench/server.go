package ingestbench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Server is a running `sunlight serve` child process.
type Server struct {
	// Written is the configuration it runs on.
	*Written
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{} // closed once cmd.Wait returned
	waitErr error         // cmd.Wait's result; read after exited is closed
	chPID   int           // the managed clickhouse-server, 0 if not found
}

// StartServer runs bin serve --config w.Path, its output going to
// serve.log next to the file, and waits up to ready for GET /healthz to
// answer 200. On any error the process is stopped again.
func StartServer(ctx context.Context, bin string, w *Written, ready time.Duration) (*Server, error) {
	s := &Server{Written: w, logPath: filepath.Join(filepath.Dir(w.Path), "serve.log"), exited: make(chan struct{})}
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, fmt.Errorf("serve: log: %w", err)
	}
	s.cmd = exec.Command(bin, "serve", "--config", w.Path)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	// SIGTERM if this process dies without Close (a test timeout): the
	// server then stops its ClickHouse as it does on a normal shutdown.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("serve: start %s: %w", bin, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		logf.Close()
		close(s.exited)
	}()
	if err := s.waitHealthy(ctx, ready); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("%w\n%s", err, s.LogTail(40))
	}
	s.chPID = findChild(s.PID(), "clickhouse")
	return s, nil
}

func (s *Server) waitHealthy(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	url := s.URL() + "/healthz"
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("serve: %s not 200 within %s (last: %v)", url, within, errOrStatus(err, resp))
		}
		select {
		case <-s.exited:
			return fmt.Errorf("serve: exited before it was ready: %v", s.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func errOrStatus(err error, resp *http.Response) string {
	if err != nil {
		return err.Error()
	}
	return resp.Status
}

// URL is the server's base URL, e.g. http://127.0.0.1:41234.
func (s *Server) URL() string { return "http://" + s.Listen }

// EventsURL is the events endpoint.
func (s *Server) EventsURL() string { return s.URL() + "/api/v1/events" }

// PID is the server process's id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// CPU returns the CPU time the server process has used so far, and that
// of its managed clickhouse-server (0 when it was not found).
func (s *Server) CPU() (server, clickhouse time.Duration, err error) {
	server, err = procCPU(s.PID())
	if err != nil {
		return 0, 0, err
	}
	if s.chPID != 0 {
		clickhouse, err = procCPU(s.chPID)
		if err != nil {
			return 0, 0, err
		}
	}
	return server, clickhouse, nil
}

// Exited reports whether the server process has ended (a crash).
func (s *Server) Exited() error {
	select {
	case <-s.exited:
		return fmt.Errorf("serve exited: %v", s.waitErr)
	default:
		return nil
	}
}

// LogTail returns the last n lines of the server's output.
func (s *Server) LogTail(n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return "(no serve.log: " + err.Error() + ")"
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "serve.log (last lines):\n" + string(bytes.Join(lines, []byte("\n")))
}

// Close stops the server: SIGTERM, then SIGKILL after 30 s (its managed
// ClickHouse dies with it). It returns an error when the server had to be
// killed or did not exit cleanly.
func (s *Server) Close() error {
	select {
	case <-s.exited:
		return s.exitError()
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return s.exitError()
	case <-time.After(30 * time.Second):
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	return errors.New("serve: killed, it did not exit within 30 s of SIGTERM")
}

func (s *Server) exitError() error {
	if s.waitErr != nil {
		return fmt.Errorf("serve: %w", s.waitErr)
	}
	return nil
}

// findChild returns the pid of a child of parent whose command name
// contains name, or 0.
func findChild(parent int, name string) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		comm, ppid, ok := parseCommPPID(string(b))
		if ok && ppid == parent && strings.Contains(comm, name) {
			return pid
		}
	}
	return 0
}
