// Package chcluster starts a ClickHouse cluster on loopback: one ZooKeeper
// (Debian's zookeeper package) and shards × replicas clickhouse-server
// processes (analytics.ManagedServer, each with the cluster's remote_servers,
// zookeeper and macros in its config), for tests (chtest.Cluster), the
// benchmarks and scripts/cluster.sh. Sunlight's schema goes on it with
// analytics.StoreConfig{Addr: c.Addrs(), Cluster: c.Name}.
package chcluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/internal/freeport"
)

// DefaultName is the cluster's name in remote_servers.
const DefaultName = "sunlight"

// Options shape a cluster.
type Options struct {
	// Dir holds every server's directory; required.
	Dir string
	// Name is the cluster's name. Default DefaultName.
	Name string
	// Shards and Replicas per shard. Default 2 and 2.
	Shards, Replicas int
	// Logger receives the servers' start and restart messages; nil discards.
	Logger *slog.Logger
}

// Cluster is a running cluster.
type Cluster struct {
	Name      string
	ZooKeeper *ZooKeeper
	// Nodes in shard order, then replica order.
	Nodes []*Node
}

// Node is one clickhouse-server of the cluster.
type Node struct {
	Shard, Replica int // from 1
	Server         *analytics.ManagedServer
}

// Addr is the node's native-protocol address.
func (n *Node) Addr() string { return n.Server.Addr() }

// Kill sends SIGKILL to the node's clickhouse-server, as a crash would; its
// supervisor starts it again after a short backoff, and it catches up from
// the other replica of its shard.
func (n *Node) Kill() error {
	pid := n.Server.PID()
	if pid == 0 {
		return fmt.Errorf("chcluster: shard %d replica %d is not running", n.Shard, n.Replica)
	}
	return syscall.Kill(pid, syscall.SIGKILL)
}

// Addrs lists every node's native-protocol address.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr()
	}
	return out
}

// Start starts ZooKeeper and every node, and returns once all of them answer.
// On error whatever was started is stopped.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	if o.Dir == "" {
		return nil, errors.New("chcluster: no directory")
	}
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.Shards == 0 {
		o.Shards = 2
	}
	if o.Replicas == 0 {
		o.Replicas = 2
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if _, err := analytics.LookupClickHouseServer(""); err != nil {
		return nil, err
	}
	if _, err := LookupZooKeeper(); err != nil {
		return nil, err
	}
	zkPort, err := freeport.TCP()
	if err != nil {
		return nil, err
	}
	zk, err := StartZooKeeper(ctx, filepath.Join(o.Dir, "zookeeper"), zkPort)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Name: o.Name, ZooKeeper: zk}

	type ports struct{ tcp, http, interserver int }
	var (
		all    []ports
		shards = make([][]analytics.HostPort, o.Shards)
	)
	for s := range o.Shards {
		for range o.Replicas {
			var p ports
			for _, dst := range []*int{&p.tcp, &p.http, &p.interserver} {
				if *dst, err = freeport.TCP(); err != nil {
					_ = zk.Close()
					return nil, err
				}
			}
			all = append(all, p)
			shards[s] = append(shards[s], analytics.HostPort{Host: "127.0.0.1", Port: p.tcp})
		}
	}
	for i, p := range all {
		s, r := i/o.Replicas+1, i%o.Replicas+1
		c.Nodes = append(c.Nodes, &Node{Shard: s, Replica: r, Server: &analytics.ManagedServer{
			Dir:      filepath.Join(o.Dir, fmt.Sprintf("ch-s%d-r%d", s, r)),
			TCPPort:  p.tcp,
			HTTPPort: p.http,
			Logger:   o.Logger.With("node", fmt.Sprintf("s%d-r%d", s, r)),
			Cluster: &analytics.ClusterNode{
				Name:            o.Name,
				Shards:          shards,
				ZooKeeper:       []analytics.HostPort{{Host: "127.0.0.1", Port: zkPort}},
				Shard:           fmt.Sprintf("%02d", s),
				Replica:         fmt.Sprintf("r%d", r),
				InterserverPort: p.interserver,
			},
		}})
	}
	errs := make([]error, len(c.Nodes))
	var wg sync.WaitGroup
	for i, n := range c.Nodes {
		wg.Go(func() { errs[i] = n.Server.Start(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("chcluster: %w", err)
	}
	return c, nil
}

// Close stops every node, then ZooKeeper.
func (c *Cluster) Close() error {
	var wg sync.WaitGroup
	for _, n := range c.Nodes {
		wg.Go(func() { _ = n.Server.Close() })
	}
	wg.Wait()
	if c.ZooKeeper != nil {
		return c.ZooKeeper.Close()
	}
	return nil
}

// WaitReplicated waits until every replica of every table of database has
// fetched what its shard's other replicas have (system.replicas shows no
// queue and no missing parts), e.g. after a replica was killed and came back.
func (c *Cluster) WaitReplicated(ctx context.Context, database string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, n := range c.Nodes {
		for {
			var pending uint64
			err := QueryUint(ctx, n.Addr(), &pending, "SELECT toUInt64(count()) FROM system.replicas WHERE database = ? AND (queue_size > 0 OR inserts_in_queue > 0 OR is_readonly OR absolute_delay > 0)", database)
			if err == nil && pending == 0 {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("chcluster: shard %d replica %d not caught up (pending %d, err %v): %w", n.Shard, n.Replica, pending, err, ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

// QueryUint runs a one-number query on the server at addr alone (not
// through the cluster's Distributed tables).
func QueryUint(ctx context.Context, addr string, dst *uint64, query string, args ...any) error {
	conn, err := clickhouse.Open(&clickhouse.Options{Protocol: clickhouse.Native, Addr: []string{addr}, DialTimeout: 2 * time.Second})
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.QueryRow(ctx, query, args...).Scan(dst)
}
