package nodekey_test

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/internal/nodekey"
)

func TestLoadOrCreate(t *testing.T) {
	path := nodekey.Path(filepath.Join(t.TempDir(), "data"))
	k1, err := nodekey.LoadOrCreate(path)
	require.NoError(t, err)
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	k2, err := nodekey.LoadOrCreate(path)
	require.NoError(t, err)
	require.True(t, k1.Equal(k2), "the second start reads the same key")

	pub := k1.Public().(ed25519.PublicKey)
	pemPub := nodekey.MarshalPublic(pub)
	got, err := nodekey.ParsePublic(pemPub)
	require.NoError(t, err)
	require.True(t, pub.Equal(got))
	pubFile := filepath.Join(t.TempDir(), "node.pub")
	require.NoError(t, os.WriteFile(pubFile, pemPub, 0o644))
	for _, f := range []string{pubFile, path} {
		got, err = nodekey.ReadPublic(f)
		require.NoError(t, err, f)
		require.True(t, pub.Equal(got), f)
	}
	require.Regexp(t, `^n-[0-9a-f]{16}$`, nodekey.ID(pub))

	require.NoError(t, os.Chmod(path, 0o644))
	_, err = nodekey.Load(path)
	require.ErrorContains(t, err, "chmod 600")
	_, err = nodekey.ParsePublic([]byte("not a key"))
	require.Error(t, err)
}
