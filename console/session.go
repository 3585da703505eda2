package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sunlight-gov/sunlight/internal/apperr"
)

// Errors a token check can return; both mean 401 at the HTTP edge.
var (
	ErrTokenInvalid = apperr.SessionInvalid.New(nil, "invalid session token")
	ErrTokenExpired = apperr.SessionExpired.New(nil, "session expired: sign in again")
)

// sessionClaims is what a session token says about its holder.
type sessionClaims struct {
	Username string `json:"u"`
	Role     Role   `json:"r"`
	Expires  int64  `json:"e"` // unix seconds
	Nonce    string `json:"n"` // makes each token unique, so one can be revoked
}

// sessions issues and checks HMAC-signed tokens. Signed tokens survive a
// restart of the server (the key is on disk) without a session table;
// logout is a revocation list held until the token would expire anyway.
type sessions struct {
	key []byte
	ttl time.Duration
	now func() time.Time

	// revokedPath is where the revocation list is saved; "" keeps it in
	// memory only.
	revokedPath string

	mu      sync.Mutex
	revoked map[string]time.Time // nonce -> expiry; guarded by mu
}

const tokenPrefix = "sl1."

// loadSessionKey reads the signing key at path, creating a random one
// (0600) the first time.
func loadSessionKey(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		key, err := hex.DecodeString(strings.TrimSpace(string(data)))
		if err != nil || len(key) < 32 {
			return nil, fmt.Errorf("session key %s is damaged: delete it to make a new one (everyone will have to sign in again)", path)
		}
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read session key: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("make session key: %w", err)
	}
	if err := writeFileAtomic(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, err
	}
	return key, nil
}

func (s *sessions) issue(u User) (string, time.Time) {
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails on Linux
	exp := s.now().Add(s.ttl).Truncate(time.Second)
	claims := sessionClaims{Username: u.Username, Role: u.Role, Expires: exp.Unix(), Nonce: base64.RawURLEncoding.EncodeToString(nonce)}
	payload, _ := json.Marshal(claims) // plain struct: cannot fail
	body := base64.RawURLEncoding.EncodeToString(payload)
	return tokenPrefix + body + "." + s.sign(body), exp
}

func (s *sessions) sign(body string) string {
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(body))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func (s *sessions) verify(token string) (sessionClaims, error) {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return sessionClaims{}, ErrTokenInvalid
	}
	body, sig, ok := strings.Cut(rest, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(s.sign(body))) {
		return sessionClaims{}, ErrTokenInvalid
	}
	payload, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return sessionClaims{}, ErrTokenInvalid
	}
	var c sessionClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return sessionClaims{}, ErrTokenInvalid
	}
	now := s.now()
	if !now.Before(time.Unix(c.Expires, 0)) {
		return sessionClaims{}, ErrTokenExpired
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, gone := s.revoked[c.Nonce]; gone {
		return sessionClaims{}, ErrTokenExpired
	}
	return c, nil
}

// revoke ends a session before its expiry (logout). The revocation list
// is saved (fsync'd) in revokedPath, if set, so that it survives a
// restart: an error means the session is revoked only until then.
func (s *sessions) revoke(c sessionClaims) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for n, exp := range s.revoked {
		if now.After(exp) {
			delete(s.revoked, n)
		}
	}
	s.revoked[c.Nonce] = time.Unix(c.Expires, 0)
	if s.revokedPath == "" {
		return nil
	}
	list := make(map[string]int64, len(s.revoked))
	for n, exp := range s.revoked {
		list[n] = exp.Unix()
	}
	data, _ := json.Marshal(list) // strings and numbers: cannot fail
	if err := writeFileAtomic(s.revokedPath, data, 0o600); err != nil {
		return fmt.Errorf("save revoked sessions: %w", err)
	}
	return nil
}

// loadRevoked reads the revocation list saved by revoke (none yet: empty),
// leaving out the sessions that have expired anyway.
func loadRevoked(path string, now time.Time) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read revoked sessions: %w", err)
	}
	var list map[string]int64
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("revoked sessions %s are damaged (%v): delete the file and the session key next to it (everyone will have to sign in again)", path, err)
	}
	for n, exp := range list {
		if t := time.Unix(exp, 0); now.Before(t) {
			out[n] = t
		}
	}
	return out, nil
}
