package console

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics/chtest"
	"github.com/sunlight-gov/sunlight/internal/config"
	"github.com/sunlight-gov/sunlight/internal/selfsigned"
)

// servedSerial makes a new TLS connection to addr, trusting roots, and
// returns the serial number of the certificate the server presents.
func servedSerial(t *testing.T, addr string, roots *x509.CertPool) *big.Int {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	require.NoError(t, err)
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber
}

func serialOfFile(t *testing.T, path string) *big.Int {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(path, strings.TrimSuffix(path, "cert.pem")+"key.pem")
	require.NoError(t, err)
	return pair.Leaf.SerialNumber
}

// TestTLS: with tls.cert_file and tls.key_file, listen speaks HTTPS only,
// with HSTS and Secure cookies; a reload presents a new certificate to new
// connections without closing the listener or the connections already
// open, and a pair that does not load keeps the old one; the redirect
// listener sends plain HTTP to HTTPS.
func TestTLS(t *testing.T) {
	certDir := t.TempDir()
	certFile, keyFile := filepath.Join(certDir, "cert.pem"), filepath.Join(certDir, "key.pem")
	require.NoError(t, selfsigned.WriteFiles(certFile, keyFile, []string{"127.0.0.1"}, time.Hour))
	first := serialOfFile(t, certFile)
	ts := newTestServer(t, fmt.Sprintf("tls:\n  cert_file: %s\n  key_file: %s\n  redirect_listen: 127.0.0.1:0\n", certFile, keyFile))
	require.Equal(t, "https://"+ts.Addr()+"/", ts.URL())

	roots := x509.NewCertPool()
	pemData, err := os.ReadFile(certFile)
	require.NoError(t, err)
	require.True(t, roots.AppendCertsFromPEM(pemData))
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	base := "https://" + ts.Addr()

	get := func(t *testing.T, path string) (*http.Response, bool) {
		t.Helper()
		reused := false
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		require.NoError(t, err)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
		}))
		resp, err := client.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp, reused
	}

	t.Run("https with HSTS", func(t *testing.T) {
		resp, _ := get(t, "/healthz")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "max-age=31536000", resp.Header.Get("Strict-Transport-Security"))
		require.Contains(t, resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
		require.Equal(t, first, servedSerial(t, ts.Addr(), roots))
		require.GreaterOrEqual(t, resp.TLS.Version, uint16(tls.VersionTLS12))
	})
	t.Run("plain HTTP on the TLS port is refused", func(t *testing.T) {
		resp, err := http.Get("http://" + ts.Addr() + "/healthz")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "Go's server: an HTTP request to an HTTPS server")
	})
	t.Run("secure cookie", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/auth/login", strings.NewReader(`{"username":"auditor","password":"auditorauditor"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		cookie := resp.Header.Get("Set-Cookie")
		require.Contains(t, cookie, sessionCookie+"=")
		require.Contains(t, cookie, "; Secure")
		require.Contains(t, cookie, "HttpOnly")
	})
	t.Run("redirect listener", func(t *testing.T) {
		require.NotEmpty(t, ts.RedirectAddr())
		_, port, err := net.SplitHostPort(ts.Addr())
		require.NoError(t, err)
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			req, _ := http.NewRequest(m, "http://"+ts.RedirectAddr()+"/api/v1/public/items?q=a%20b", strings.NewReader("{}"))
			resp, err := noFollow.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusPermanentRedirect, resp.StatusCode, m)
			require.Equal(t, "https://127.0.0.1:"+port+"/api/v1/public/items?q=a%20b", resp.Header.Get("Location"), m)
		}
		// A client that follows it lands on the HTTPS API.
		follow := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		resp, err := follow.Get("http://" + ts.RedirectAddr() + "/healthz")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.NotNil(t, resp.TLS)
	})
	t.Run("reload", func(t *testing.T) {
		_, _ = get(t, "/healthz") // a keep-alive connection, open across the reload
		require.NoError(t, selfsigned.WriteFiles(certFile, keyFile, []string{"127.0.0.1"}, time.Hour))
		second := serialOfFile(t, certFile)
		require.NotEqual(t, first, second)
		require.NoError(t, ts.ReloadTLS())

		resp, reused := get(t, "/healthz")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.True(t, reused, "the connection opened before the reload still serves")
		require.Equal(t, first, resp.TLS.PeerCertificates[0].SerialNumber, "it keeps its certificate")

		newRoots := x509.NewCertPool()
		pemData, err := os.ReadFile(certFile)
		require.NoError(t, err)
		require.True(t, newRoots.AppendCertsFromPEM(pemData))
		require.Equal(t, second, servedSerial(t, ts.Addr(), newRoots), "a new connection gets the new certificate")

		// A broken pair (a renewal half written, a key of another
		// certificate) is refused and the one in use stays.
		require.NoError(t, os.WriteFile(keyFile, []byte("not a key"), 0o600))
		err = ts.ReloadTLS()
		require.Error(t, err)
		require.Contains(t, err.Error(), "tls.key_file")
		require.Equal(t, second, servedSerial(t, ts.Addr(), newRoots))
	})
}

// TestTLSBadPair: a server whose certificate does not load does not start,
// and says which keys are at fault.
func TestTLSBadPair(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, []byte("nope"), 0o644))
	require.NoError(t, os.WriteFile(keyFile, []byte("nope"), 0o600))
	path := filepath.Join(dir, "sunlight.yaml")
	require.NoError(t, os.WriteFile(path, []byte(testConfig+fmt.Sprintf("tls:\n  cert_file: %s\n  key_file: %s\n", certFile, keyFile)), 0o644))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	srv := &Server{Config: cfg, Store: chtest.Store(t)}
	err = srv.Initialize()
	require.Error(t, err)
	require.Contains(t, err.Error(), "tls.cert_file")
}
