package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/sunlight-gov/sunlight/console"
)

// user runs `sunlight user add`: the password comes from stdin (first
// line) so it never shows in the process list or shell history.
func user(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return usageError{errors.New(`the only subcommand is "add": sunlight user add --users FILE --username NAME --role ROLE`)}
	}
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	usersFile := fs.String("users", "", "users file to create or update (required)")
	username := fs.String("username", "", "user name (required)")
	roleName := fs.String("role", "", "admin | inspector | manager | auditor (required)")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err}
	}
	switch {
	case *usersFile == "":
		return usageError{errors.New("--users is required")}
	case *username == "":
		return usageError{errors.New("--username is required")}
	case *roleName == "":
		return usageError{errors.New("--role is required")}
	}
	role, err := console.ParseRole(*roleName)
	if err != nil {
		return usageError{fmt.Errorf("--role: %w", err)}
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read password from stdin: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return errors.New("no password on stdin: pipe it in, e.g. `echo 'secret-pass' | sunlight user add ...`")
	}
	if err := console.AddUser(*usersFile, *username, role, password); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "user %s (%s) saved in %s\n", *username, role, *usersFile)
	return nil
}
