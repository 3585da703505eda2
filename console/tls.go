package console

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// certStore holds the certificate that the HTTPS listener presents. The
// listener asks it at every handshake (tls.Config.GetCertificate), so a
// reload takes effect for the next connection without closing the
// listener or the connections already open.
type certStore struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// load reads the pair from disk; on an error the certificate in use stays.
func (c *certStore) load() error {
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("tls: load tls.cert_file %s and tls.key_file %s: %w", c.certFile, c.keyFile, err)
	}
	if pair.Leaf == nil && len(pair.Certificate) > 0 {
		pair.Leaf, _ = x509.ParseCertificate(pair.Certificate[0]) // LoadX509KeyPair parsed it already
	}
	c.cur.Store(&pair)
	return nil
}

func (c *certStore) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if p := c.cur.Load(); p != nil {
		return p, nil
	}
	return nil, errors.New("no certificate loaded")
}

// tlsConfig is the HTTPS listener's configuration: TLS 1.2 or later with
// Go's default (forward-secret, AEAD) cipher suites.
func (c *certStore) tlsConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.get}
}

// ReloadTLS reads tls.cert_file and tls.key_file again (serve calls it on
// SIGHUP): new connections get the new certificate, open ones keep theirs.
// On an error the certificate in use stays and the error says why. It is a
// no-op without TLS.
func (s *Server) ReloadTLS() error {
	if s.certs == nil {
		return nil
	}
	if err := s.certs.load(); err != nil {
		s.log.Error("tls certificate not reloaded: the previous one stays in use", "err", err)
		return err
	}
	leaf := s.certs.cur.Load().Leaf
	s.log.Info("tls certificate reloaded", "subject", leaf.Subject.String(), "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	return nil
}

// URL is the base URL of the console (https:// when TLS is on).
func (s *Server) URL() string {
	if s.certs != nil {
		return "https://" + s.Addr() + "/"
	}
	return "http://" + s.Addr() + "/"
}

// RedirectAddr is the address of the plain-HTTP redirect listener, or ""
// when there is none.
func (s *Server) RedirectAddr() string {
	if s.redirectLn == nil {
		return ""
	}
	return s.redirectLn.Addr().String()
}

// startRedirect serves tls.redirect_listen: every request, whatever its
// method, gets a 308 to the same host, path and query over HTTPS on
// Listen's port (308 rather than 301 so that a POST stays a POST). It
// serves nothing else: no page and no API answer goes over plain HTTP.
func (s *Server) startRedirect(addr string) error {
	_, port, err := net.SplitHostPort(s.ln.Addr().String())
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s (config key tls.redirect_listen): %w", addr, err)
	}
	s.redirectLn = ln
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if hh, _, err := net.SplitHostPort(host); err == nil {
			host = hh
		}
		if host == "" || strings.ContainsAny(host, "/\\@") {
			host, _, _ = net.SplitHostPort(s.ln.Addr().String())
		}
		if strings.Contains(host, ":") { // an IPv6 literal
			host = "[" + host + "]"
		}
		if port != "443" {
			host += ":" + port
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
	})
	s.redirectSrv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.redirectSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("https redirect server stopped", "err", err)
		}
	}()
	s.log.Info("redirecting plain HTTP to HTTPS", "addr", ln.Addr().String())
	return nil
}
