package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/ingest"
	"github.com/sunlight-gov/sunlight/internal/config"
	"github.com/sunlight-gov/sunlight/simulator"
)

// TestServeTLSReloadOnSIGHUP: serve with a certificate made by `sunlight
// selfsigned` speaks HTTPS on listen; after the pair on disk is replaced,
// SIGHUP makes new connections get the new certificate while the process
// (and its listener) keeps running; the redirect port sends plain HTTP to
// HTTPS; and the simulator's client reaches the events API over HTTPS,
// trusting the self-signed certificate.
func TestServeTLSReloadOnSIGHUP(t *testing.T) {
	if _, err := exec.LookPath("clickhouse-server"); err != nil && os.Getenv("CI") == "" {
		if _, err := os.Stat("/usr/sbin/clickhouse-server"); err != nil {
			t.Skip("clickhouse-server is not installed (make deps)")
		}
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls", "cert.pem"), filepath.Join(dir, "tls", "key.pem")
	makePair := func() *big.Int {
		t.Helper()
		var out bytes.Buffer
		code := run([]string{"selfsigned", "--cert", certFile, "--key", keyFile, "--hosts", "127.0.0.1,localhost", "--days", "2"}, nil, &out, &out)
		require.Equal(t, 0, code, out.String())
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		require.NoError(t, err)
		st, err := os.Stat(keyFile)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the key is readable by its owner only")
		return pair.Leaf.SerialNumber
	}
	first := makePair()
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	redirect := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfgPath := writeConfig(t, dir, listen, freePort(t), freePort(t), freePort(t),
		"tls:\n  cert_file: ./tls/cert.pem\n  key_file: ./tls/key.pem\n  redirect_listen: "+redirect+"\n")
	serve := startSunlight(t, "serve", "--config", cfgPath)

	roots := func() *x509.CertPool {
		pool := x509.NewCertPool()
		data, err := os.ReadFile(certFile)
		require.NoError(t, err)
		require.True(t, pool.AppendCertsFromPEM(data))
		return pool
	}
	served := func(pool *x509.CertPool) (*big.Int, error) {
		conn, err := tls.Dial("tcp", listen, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber, nil
	}
	client := func(pool *x509.CertPool) *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	}
	firstRoots := roots()
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := client(firstRoots).Get("https://" + listen + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				require.Equal(t, "max-age=31536000", resp.Header.Get("Strict-Transport-Security"))
				break
			}
		}
		require.Nil(t, serve.ProcessState, "serve exited early")
		require.True(t, time.Now().Before(deadline), "https /healthz not 200 within 90 s: %v", err)
		time.Sleep(200 * time.Millisecond)
	}
	got, err := served(firstRoots)
	require.NoError(t, err)
	require.Equal(t, first, got)

	second := makePair()
	require.NotEqual(t, first, second)
	require.NoError(t, serve.Process.Signal(syscall.SIGHUP))
	secondRoots := roots()
	require.Eventually(t, func() bool {
		got, err := served(secondRoots)
		return err == nil && got.Cmp(second) == 0
	}, 20*time.Second, 100*time.Millisecond, "after SIGHUP new connections get the new certificate")
	require.Nil(t, serve.ProcessState, "SIGHUP does not stop serve")

	noFollow := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get("http://" + redirect + "/#/live")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusPermanentRedirect, resp.StatusCode)
	require.Equal(t, "https://"+listen+"/", resp.Header.Get("Location"))

	// The simulator posts to https:// and trusts tls.cert_file.
	cfg, err := config.Load(cfgPath)
	require.NoError(t, err)
	base, hc, err := serverClient(cfg)
	require.NoError(t, err)
	require.Equal(t, "https://"+listen, base)
	p := &simulator.Poster{URL: base + "/api/v1/events", Client: hc, APIKey: "demo-queue-key"}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, p.Post(ctx, []ingest.Event{{EventID: "tls-1", Type: "window_opened", TS: time.Now(), Hall: "city-main", Window: "A01"}}))

	require.NoError(t, serve.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- serve.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "serve exits cleanly on SIGTERM")
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit within 30 s of SIGTERM")
	}
}

func TestSelfSignedUsage(t *testing.T) {
	var out bytes.Buffer
	require.Equal(t, 2, run([]string{"selfsigned", "--cert", filepath.Join(t.TempDir(), "c.pem")}, nil, &out, &out))
	require.True(t, strings.Contains(out.String(), "--cert and --key are required"), out.String())
}
