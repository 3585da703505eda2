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

// revoke ends a session before its expiry (logout).
func (s *sessions) revoke(c sessionClaims) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for n, exp := range s.revoked {
		if now.After(exp) {
			delete(s.revoked, n)
		}
	}
	s.revoked[c.Nonce] = time.Unix(c.Expires, 0)
}
