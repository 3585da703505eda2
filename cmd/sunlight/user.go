package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/sunlight-gov/sunlight/console"
	"github.com/sunlight-gov/sunlight/internal/config"
)

// user runs `sunlight user add`: the password comes from stdin (first
// line) so it never shows in the process list or shell history.
func user(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return usageError{errors.New(`the only subcommand is "add": sunlight user add --users FILE --username NAME --role ROLE [--config FILE --scope HALL[,HALL]]`)}
	}
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	usersFile := fs.String("users", "", "users file to create or update (required)")
	username := fs.String("username", "", "user name (required)")
	roleName := fs.String("role", "", "admin | inspector | manager | auditor (required)")
	configPath := fs.String("config", "", "configuration file: checks --scope's hall ids; its auth.users_file is the default --users")
	scopeList := fs.String("scope", "", "limit the user to these halls and the halls under them, comma-separated (default: the whole city)")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err}
	}
	var scope []string
	for _, h := range strings.Split(*scopeList, ",") {
		if h = strings.TrimSpace(h); h != "" && !slices.Contains(scope, h) {
			scope = append(scope, h)
		}
	}
	if *scopeList != "" && len(scope) == 0 {
		return usageError{errors.New("--scope: no hall id given")}
	}
	if len(scope) > 0 && *configPath == "" {
		return usageError{errors.New("--scope needs --config FILE, to check the hall ids")}
	}
	if *configPath != "" {
		cfg, err := config.Load(*configPath)
		if err != nil {
			return err
		}
		if msg := cfg.CheckScope(scope); msg != "" {
			return usageError{fmt.Errorf("--scope: %s in %s", msg, *configPath)}
		}
		if *usersFile == "" {
			*usersFile = cfg.Auth.UsersFile
		}
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
	if err := console.AddScopedUser(*usersFile, *username, role, password, scope); err != nil {
		return err
	}
	where := ""
	if len(scope) > 0 {
		where = ", scope: halls " + strings.Join(scope, ", ") + " and those under them"
	}
	fmt.Fprintf(stdout, "user %s (%s%s) saved in %s\n", *username, role, where, *usersFile)
	return nil
}
