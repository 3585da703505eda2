package console

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"

	"github.com/sunlight-gov/sunlight/internal/config"
)

// apiKeys checks event producers' keys against the configured SHA-256
// hashes; the keys themselves are never stored.
type apiKeys struct {
	names  []string
	hashes [][]byte
	scopes map[string][]string // name -> the key's scope (hall ids)
}

func newAPIKeys(keys []config.APIKey) *apiKeys {
	a := &apiKeys{scopes: map[string][]string{}}
	for _, k := range keys {
		h, err := hex.DecodeString(k.KeySHA256)
		if err != nil {
			continue // config validation has already rejected it
		}
		a.names = append(a.names, k.Name)
		a.hashes = append(a.hashes, h)
		a.scopes[k.Name] = k.Scope
	}
	return a
}

// lookup returns the producer's name for a presented key.
func (a *apiKeys) lookup(key string) (string, bool) {
	if key == "" {
		return "", false
	}
	sum := sha256.Sum256([]byte(key))
	found := -1
	for i, h := range a.hashes {
		if subtle.ConstantTimeCompare(sum[:], h) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", false
	}
	return a.names[found], true
}

// scope is the scope of the named key (nil: every hall).
func (a *apiKeys) scope(name string) []string { return a.scopes[name] }
