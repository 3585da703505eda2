package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sunlight-gov/sunlight/internal/selfsigned"
)

// selfSigned writes a self-signed certificate and key for a local HTTPS
// server (make demo with DEMO_TLS=1): tls.cert_file and tls.key_file.
func selfSigned(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("selfsigned", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cert := fs.String("cert", "", "certificate file to write (PEM; tls.cert_file)")
	key := fs.String("key", "", "private key file to write (PEM, mode 0600; tls.key_file)")
	hosts := fs.String("hosts", "127.0.0.1,localhost", "comma-separated host names and IP addresses the certificate is for")
	days := fs.Int("days", 365, "days the certificate is valid")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if *cert == "" || *key == "" {
		return usageError{errors.New("--cert and --key are required")}
	}
	if *days < 1 {
		return usageError{errors.New("--days must be at least 1")}
	}
	var names []string
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			names = append(names, h)
		}
	}
	if len(names) == 0 {
		return usageError{errors.New("--hosts names no host")}
	}
	if err := selfsigned.WriteFiles(*cert, *key, names, time.Duration(*days)*24*time.Hour); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s and %s (self-signed for %s, %d days)\n", *cert, *key, strings.Join(names, ", "), *days)
	return nil
}
