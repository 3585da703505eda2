// Package chtest starts private clickhouse-server processes for tests
// (analytics.ManagedServer on free loopback ports) and hands out fresh
// databases on them.
//
// Starting a server takes seconds, so a package's tests normally share one
// server per test binary and each test uses its own database:
//
//	func TestMain(m *testing.M) { chtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		addr := chtest.Shared(t)
//		db := chtest.NewDatabase(t, addr)
//		...
//	}
//
// Tests that need a server of their own (to kill it, say) use Start or
// Server. Without clickhouse-server installed these helpers skip the test,
// unless the environment variable CI is set: then they fail it.
package chtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"go.uber.org/goleak"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/analytics/chcluster"
	"github.com/sunlight-gov/sunlight/internal/freeport"
)

// RequireInstalled skips t if no clickhouse-server can be found, or fails it
// when the CI environment variable is set.
func RequireInstalled(t testing.TB) {
	t.Helper()
	if _, err := analytics.LookupClickHouseServer(""); err != nil {
		notInstalled(t, err)
	}
}

func notInstalled(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("chtest: %v", err)
	}
	t.Skipf("chtest: skipping, %v", err)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freeport.TCP()
	if err != nil {
		t.Fatalf("chtest: %v", err)
	}
	return p
}

// Server starts a private clickhouse-server under t.TempDir() on free
// loopback ports and returns it running; t.Cleanup closes it.
func Server(t testing.TB) *analytics.ManagedServer {
	t.Helper()
	RequireInstalled(t)
	dir := t.TempDir()
	srv, err := startServer(dir)
	if errors.Is(err, analytics.ErrClickHouseNotInstalled) {
		notInstalled(t, err)
	}
	if err != nil {
		t.Fatalf("chtest: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// Start starts a private clickhouse-server (see Server) and returns its
// native-protocol address.
func Start(t testing.TB) (addr string) {
	t.Helper()
	return Server(t).Addr()
}

// startServer starts a managed server in dir, trying other ports if the free
// ports it picked were taken meanwhile.
func startServer(dir string) (*analytics.ManagedServer, error) {
	var lastErr error
	for range 3 {
		tcp, err := freeport.TCP()
		if err != nil {
			return nil, err
		}
		http, err := freeport.TCP()
		if err != nil {
			return nil, err
		}
		srv := &analytics.ManagedServer{Dir: dir, TCPPort: tcp, HTTPPort: http, StartTimeout: 60 * time.Second}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		err = srv.Start(ctx)
		cancel()
		if err == nil {
			return srv, nil
		}
		lastErr = err
		if !errors.Is(err, analytics.ErrPortInUse) {
			break
		}
	}
	return nil, lastErr
}

// shared is the server Shared hands out, started on first use and closed by
// Main.
var shared struct {
	once sync.Once
	srv  *analytics.ManagedServer
	dir  string
	err  error
}

// Shared returns the address of a clickhouse-server shared by all tests of
// the test binary, starting it on first use. Main closes it; a test binary
// without Main leaves it to the parent-death signal, which kills it when the
// binary exits, and leaves its temporary directory behind.
func Shared(t testing.TB) (addr string) {
	t.Helper()
	RequireInstalled(t)
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "sunlight-chtest-")
		if shared.err != nil {
			return
		}
		shared.srv, shared.err = startServer(shared.dir)
	})
	if errors.Is(shared.err, analytics.ErrClickHouseNotInstalled) {
		notInstalled(t, shared.err)
	}
	if shared.err != nil {
		t.Fatalf("chtest: shared server: %v", shared.err)
	}
	return shared.srv.Addr()
}

// closeShared stops the shared server, if one was started, and removes its
// directory.
func closeShared() {
	if shared.srv != nil {
		_ = shared.srv.Close()
		shared.srv = nil
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
		shared.dir = ""
	}
}

// Main is a TestMain: it runs the tests, closes the shared server and then,
// if the tests passed, fails the binary when goroutines are left running
// (goleak).
func Main(m *testing.M) {
	code := m.Run()
	closeShared()
	closeCluster()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: goroutines left running after the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// NewDatabase creates a database with a random name on the server at addr and
// drops it when t ends. It returns the name.
func NewDatabase(t testing.TB, addr string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "test_" + hex.EncodeToString(b[:])
	conn, err := clickhouse.Open(&clickhouse.Options{Protocol: clickhouse.Native, Addr: []string{addr}})
	if err != nil {
		t.Fatalf("chtest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := conn.Exec(ctx, "CREATE DATABASE `"+name+"`"); err != nil {
		conn.Close()
		t.Fatalf("chtest: create database: %v", err)
	}
	t.Cleanup(func() {
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			t.Errorf("chtest: drop database %s: %v", name, err)
		}
	})
	return name
}

// Store opens an analytics store on a fresh database of the shared server,
// migrated and closed when t ends.
func Store(t testing.TB) *analytics.Store {
	t.Helper()
	addr := Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := analytics.OpenStore(ctx, analytics.StoreConfig{Addr: []string{addr}, Database: NewDatabase(t, addr)})
	if err != nil {
		t.Fatalf("chtest: open store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// cluster is the test cluster SharedCluster hands out, started on first use
// and closed by Main.
var cluster struct {
	once sync.Once
	c    *chcluster.Cluster
	dir  string
	err  error
}

// SharedCluster returns a ClickHouse cluster of 2 shards × 2 replicas and a
// ZooKeeper (chcluster), shared by all tests of the test binary and started
// on first use (about 15 s). Without clickhouse-server or zookeeper the test
// is skipped, or failed under CI. The test is also skipped unless
// SUNLIGHT_CLUSTER_TESTS is set, as make test does in a step of its own.
func SharedCluster(t testing.TB) *chcluster.Cluster {
	t.Helper()
	if os.Getenv("SUNLIGHT_CLUSTER_TESTS") == "" {
		t.Skip("chtest: cluster tests run with SUNLIGHT_CLUSTER_TESTS=1 (make test runs them in a step of their own)")
	}
	RequireInstalled(t)
	if _, err := chcluster.LookupZooKeeper(); err != nil {
		notInstalled(t, err)
	}
	cluster.once.Do(func() {
		cluster.dir, cluster.err = os.MkdirTemp("", "sunlight-chcluster-")
		if cluster.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cluster.c, cluster.err = chcluster.Start(ctx, chcluster.Options{Dir: cluster.dir})
	})
	if cluster.err != nil {
		t.Fatalf("chtest: shared cluster: %v", cluster.err)
	}
	return cluster.c
}

// ClusterStore opens an analytics store on a fresh database of the shared
// cluster (schema made ON CLUSTER), dropped on every node when t ends.
func ClusterStore(t testing.TB) *analytics.Store {
	t.Helper()
	c := SharedCluster(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := analytics.OpenStore(ctx, analytics.StoreConfig{Addr: c.Addrs(), Cluster: c.Name, Database: name})
	if err != nil {
		t.Fatalf("chtest: open store on the cluster: %v", err)
	}
	t.Cleanup(func() {
		_ = s.Close()
		conn, err := clickhouse.Open(&clickhouse.Options{Protocol: clickhouse.Native, Addr: c.Addrs()[:1]})
		if err != nil {
			t.Errorf("chtest: %v", err)
			return
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS `"+name+"` ON CLUSTER `"+c.Name+"`"); err != nil {
			t.Errorf("chtest: drop database %s: %v", name, err)
		}
	})
	return s
}

func closeCluster() {
	if cluster.c != nil {
		_ = cluster.c.Close()
		cluster.c = nil
	}
	if cluster.dir != "" {
		_ = os.RemoveAll(cluster.dir)
		cluster.dir = ""
	}
}
