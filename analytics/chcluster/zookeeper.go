package chcluster

import (
	"bufio"
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
	"time"
)

// zookeeperJar is where Debian's zookeeper package puts the server; the jar's
// manifest names the libraries it needs.
const zookeeperJar = "/usr/share/java/zookeeper.jar"

// ErrZooKeeperNotInstalled is returned when java or Debian's zookeeper jar is
// missing (apt-get install zookeeper).
var ErrZooKeeperNotInstalled = errors.New("zookeeper is not installed (Debian: apt-get install zookeeper)")

// ZooKeeper is a standalone ZooKeeper server (Debian's package) on a loopback
// port, for ClickHouse's replication and distributed DDL. It is one process
// without a quorum: a test cluster's coordination, not a production one.
type ZooKeeper struct {
	Dir  string
	Port int
	cmd  *exec.Cmd
	done chan struct{}
}

// Addr is the server's client address.
func (z *ZooKeeper) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(z.Port)) }

// LookupZooKeeper returns the java program that runs the server, or
// ErrZooKeeperNotInstalled.
func LookupZooKeeper() (string, error) {
	java, err := exec.LookPath("java")
	if err != nil {
		return "", fmt.Errorf("%w: no java on PATH", ErrZooKeeperNotInstalled)
	}
	if _, err := os.Stat(zookeeperJar); err != nil {
		return "", fmt.Errorf("%w: %v", ErrZooKeeperNotInstalled, err)
	}
	return java, nil
}

// StartZooKeeper starts a server with its data under dir on port and returns
// once it answers "ruok". The process dies with this one (parent-death
// signal).
func StartZooKeeper(ctx context.Context, dir string, port int) (*ZooKeeper, error) {
	java, err := LookupZooKeeper()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o750); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "zoo.cfg")
	conf := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPortAddress=127.0.0.1\nclientPort=%d\nadmin.enableServer=false\n4lw.commands.whitelist=ruok,srvr\nmaxClientCnxns=0\n", data, port)
	if err := os.WriteFile(cfg, []byte(conf), 0o640); err != nil {
		return nil, err
	}
	out, err := os.OpenFile(filepath.Join(dir, "zookeeper.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd := exec.Command(java, "-Xmx256m", "-cp", zookeeperJar,
		"-Dzookeeper.log.dir="+dir, "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start zookeeper: %w", err)
	}
	z := &ZooKeeper{Dir: dir, Port: port, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(z.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if ruok(z.Addr()) {
			return z, nil
		}
		select {
		case <-z.done:
			return nil, fmt.Errorf("zookeeper exited at start (see %s)", filepath.Join(dir, "zookeeper.log"))
		case <-ctx.Done():
			z.Close()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			z.Close()
			return nil, fmt.Errorf("zookeeper on %s did not answer within 60 s (see %s)", z.Addr(), filepath.Join(dir, "zookeeper.log"))
		}
	}
}

// ruok asks ZooKeeper's four-letter command whether it is serving.
func ruok(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("ruok")); err != nil {
		return false
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.HasPrefix(line, "imok")
}

// Close stops the server (SIGTERM, then SIGKILL after 10 s).
func (z *ZooKeeper) Close() error {
	if z.cmd.Process == nil {
		return nil
	}
	_ = z.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-z.done:
	case <-time.After(10 * time.Second):
		_ = z.cmd.Process.Kill()
		<-z.done
	}
	return nil
}
