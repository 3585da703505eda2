package livebench

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// The environment that makes a process one of Run's children.
const (
	envRole   = "LIVEBENCH_ROLE"   // roleCameras or roleViewers
	envConfig = "LIVEBENCH_CONFIG" // the role's configuration, JSON
)

const (
	roleCameras = "cameras"
	roleViewers = "viewers"
)

// msgPrefix starts the lines of the children's stdout protocol; other
// lines are passed to stderr.
const msgPrefix = "@livebench "

// RunChild runs this process as one of Run's children when its
// environment says so: then it returns the exit code and true, and the
// caller exits with it. Otherwise it returns at once with false. A test
// binary calls it first thing in TestMain.
//
// The protocol: the child writes "@livebench <kind> <JSON>" lines to
// stdout ("ready" when it is, "report" at the end) and reads commands from
// stdin; stdin's end (the parent gone) ends it.
func RunChild() (code int, ok bool) {
	role := os.Getenv(envRole)
	switch role {
	case "":
		return 0, false
	case roleCameras:
		return runCameras(os.Getenv(envConfig)), true
	case roleViewers:
		return runViewers(os.Getenv(envConfig)), true
	default:
		fmt.Fprintf(os.Stderr, "livebench: unknown role %q\n", role)
		return 2, true
	}
}

// send writes one protocol line to stdout.
func send(kind string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`null`)
	}
	fmt.Printf("%s%s %s\n", msgPrefix, kind, b)
}

// child is a running child process.
type child struct {
	role   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	msgs   chan childMsg // protocol lines; closed at the end of stdout
	waited bool
}

type childMsg struct {
	kind string
	data []byte
}

// startChild starts mk's command as role with cfg.
func startChild(mk func() *exec.Cmd, role string, cfg any) (*child, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: config: %w", role, err)
	}
	cmd := mk()
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, envRole+"="+role, envConfig+"="+string(b))
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", role, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", role, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start: %w", role, err)
	}
	c := &child{role: role, cmd: cmd, stdin: stdin, msgs: make(chan childMsg, 16)}
	go func() {
		defer close(c.msgs)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			line, ok := strings.CutPrefix(sc.Text(), msgPrefix)
			if !ok {
				fmt.Fprintf(os.Stderr, "livebench %s: %s\n", role, sc.Text())
				continue
			}
			kind, data, _ := strings.Cut(line, " ")
			c.msgs <- childMsg{kind: kind, data: []byte(data)}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// expect waits for the next protocol line, which must be of kind, and
// decodes it into v.
func (c *child) expect(kind string, v any, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case m, ok := <-c.msgs:
		if !ok {
			return fmt.Errorf("%s: exited before %q: %w", c.role, kind, c.wait())
		}
		if m.kind != kind {
			return fmt.Errorf("%s: got %q, want %q", c.role, m.kind, kind)
		}
		if err := json.Unmarshal(m.data, v); err != nil {
			return fmt.Errorf("%s: %s: %w", c.role, kind, err)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("%s: no %q after %s", c.role, kind, timeout)
	}
}

// command writes one line to the child's stdin.
func (c *child) command(line string) error {
	_, err := io.WriteString(c.stdin, line+"\n")
	return err
}

// stop closes the child's stdin, which ends it, and waits for it; after
// timeout it is killed.
func (c *child) stop(timeout time.Duration) error {
	if c.waited {
		return nil
	}
	_ = c.stdin.Close()
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case _, ok := <-c.msgs:
			if ok {
				continue // a message nobody waits for
			}
			return c.wait()
		case <-t.C:
			_ = c.cmd.Process.Kill()
			for range c.msgs {
			}
			err := c.wait()
			return fmt.Errorf("%s: killed after %s: %w", c.role, timeout, err)
		}
	}
}

// wait reaps the child once its stdout is drained.
func (c *child) wait() error {
	if c.waited {
		return nil
	}
	c.waited = true
	err := c.cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return fmt.Errorf("%s: %w", c.role, err)
	}
	return err
}
