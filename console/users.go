package console

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/alexedwards/argon2id"
	"gopkg.in/yaml.v3"
)

// Role is what a signed-in user may do.
type Role string

// The roles of the console.
const (
	RoleAdmin     Role = "admin"
	RoleInspector Role = "inspector"
	RoleManager   Role = "manager"
	RoleAuditor   Role = "auditor"
)

// Roles lists every role, for validation and the route tests.
var Roles = []Role{RoleAdmin, RoleInspector, RoleManager, RoleAuditor}

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (one of admin, inspector, manager, auditor)", s)
}

// User is one entry of the users file. Only the password's argon2id hash
// is kept.
type User struct {
	Username     string `yaml:"username"`
	Role         Role   `yaml:"role"`
	PasswordHash string `yaml:"password_hash"`
	// Scope limits the user to these halls and the halls under them in
	// the hall tree; empty is the whole city.
	Scope []string `yaml:"scope,omitempty"`
}

type usersFile struct {
	Users []User `yaml:"users"`
}

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$`)

// MinPasswordLen and MaxPasswordLen bound the passwords `user add`
// accepts (in bytes); a sign-in with a longer one is refused before hashing.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 256
)

// argonParams are argon2id's recommended interactive settings (RFC 9106's
// second choice, 64 MiB), cheap enough for a login, costly for a guesser.
var argonParams = &argon2id.Params{Memory: 64 * 1024, Iterations: 1, Parallelism: 2, SaltLength: 16, KeyLength: 32}

// Users is the users file, loaded into memory.
type Users struct {
	mu     sync.RWMutex
	byName map[string]User // guarded by mu
}

// LoadUsers reads a users file. A missing file is an empty user list, so
// that `user add` can create it.
func LoadUsers(path string) (*Users, error) {
	u := &Users{byName: map[string]User{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return u, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read users file: %w", err)
	}
	var f usersFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	for i, user := range f.Users {
		if _, err := ParseRole(string(user.Role)); err != nil {
			return nil, fmt.Errorf("users file %s: users[%d] (%s): %w", path, i, user.Username, err)
		}
		if user.PasswordHash == "" {
			return nil, fmt.Errorf("users file %s: users[%d] (%s): password_hash is empty", path, i, user.Username)
		}
		u.byName[user.Username] = user
	}
	return u, nil
}

// Len is the number of users.
func (u *Users) Len() int {
	u.mu.RLock()
	defer u.mu.RUnlock()
	return len(u.byName)
}

// Authenticate checks a username and password. It spends the same time on
// an unknown user as on a wrong password, so that names cannot be probed.
func (u *Users) Authenticate(username, password string) (User, bool) {
	u.mu.RLock()
	user, ok := u.byName[username]
	u.mu.RUnlock()
	hash := user.PasswordHash
	if !ok {
		hash = dummyHash
	}
	match, err := argon2id.ComparePasswordAndHash(password, hash)
	if err != nil || !match || !ok {
		return User{}, false
	}
	return user, true
}

// dummyHash is compared against when the user does not exist.
var dummyHash = func() string {
	h, err := argon2id.CreateHash("no such user", argonParams)
	if err != nil {
		panic(err) // start-up only: argon2id cannot fail with valid params
	}
	return h
}()

// AddUser adds or replaces a user in the users file at path, hashing the
// password with argon2id, and writes the file atomically (0600). The user
// sees the whole city; see AddScopedUser.
func AddUser(path, username string, role Role, password string) error {
	return AddScopedUser(path, username, role, password, nil)
}

// AddScopedUser is AddUser for a user limited to the halls of scope and
// those under them (nil: the whole city). The caller checks the hall ids
// against the configuration (config.CheckScope).
func AddScopedUser(path, username string, role Role, password string, scope []string) error {
	if !usernamePattern.MatchString(username) {
		return fmt.Errorf("username %q: use letters, digits and . _ @ - (at most 64)", username)
	}
	if _, err := ParseRole(string(role)); err != nil {
		return err
	}
	if err := CheckPassword(username, password); err != nil {
		return err
	}
	users, err := LoadUsers(path)
	if err != nil {
		return err
	}
	hash, err := argon2id.CreateHash(password, argonParams)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	users.byName[username] = User{Username: username, Role: role, PasswordHash: hash, Scope: scope}
	var f usersFile
	for _, user := range users.byName {
		f.Users = append(f.Users, user)
	}
	sort.Slice(f.Users, func(i, j int) bool { return f.Users[i].Username < f.Users[j].Username })
	data, err := yaml.Marshal(&f)
	if err != nil {
		return fmt.Errorf("encode users file: %w", err)
	}
	data = append([]byte("# Sunlight users: edit with `sunlight user add`. Hashes are argon2id.\n"), data...)
	return writeFileAtomic(path, data, 0o600)
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create folder for %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// commonPasswords are the first guesses of any attacker: refused even when
// long enough.
var commonPasswords = map[string]bool{
	"password": true, "password1": true, "password123": true, "passw0rd": true, "12345678": true,
	"123456789": true, "1234567890": true, "87654321": true, "11111111": true, "88888888": true,
	"qwertyui": true, "qwerty123": true, "1qaz2wsx": true, "abcd1234": true, "a1234567": true,
	"iloveyou": true, "admin123": true, "admin1234": true, "administrator": true, "welcome1": true,
	"sunlight": true, "sunlight1": true, "sunlight123": true, "changeme": true, "letmein1": true,
}

// CheckPassword is the password policy of `user add`: MinPasswordLen to
// MaxPasswordLen bytes, not the user name (nor it backwards), not one
// character repeated, not one of the commonest passwords. The error names
// the rule that failed.
func CheckPassword(username, password string) error {
	lower := strings.ToLower(strings.TrimSpace(password))
	name := strings.ToLower(username)
	switch {
	case len(password) < MinPasswordLen:
		return fmt.Errorf("password: at least %d characters (this one has %d)", MinPasswordLen, len(password))
	case len(password) > MaxPasswordLen:
		return fmt.Errorf("password: at most %d bytes (this one has %d)", MaxPasswordLen, len(password))
	case lower == name || lower == reverse(name):
		return fmt.Errorf("password: must not be the user name %q (nor it backwards)", username)
	case strings.Count(password, password[:1]) == len(password):
		return errors.New("password: must not be one character repeated")
	case commonPasswords[lower]:
		return errors.New("password: one of the commonest passwords, the first an attacker tries: choose another")
	}
	return nil
}

func reverse(s string) string {
	r := []rune(s)
	slices.Reverse(r)
	return string(r)
}

// lookup returns a user by name.
func (u *Users) lookup(username string) (User, bool) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	user, ok := u.byName[username]
	return user, ok
}

// list returns every user, in no order.
func (u *Users) list() []User {
	u.mu.RLock()
	defer u.mu.RUnlock()
	out := make([]User, 0, len(u.byName))
	for _, user := range u.byName {
		out = append(out, user)
	}
	return out
}
