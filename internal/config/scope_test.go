package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// treeFile is minimal with a district under the city hall, two
// communities under the district and a second district.
func treeFile() string {
	return strings.Replace(minimal, "items:\n", `  - id: district-xincheng
    name: 新城区
    tier: district
    parent: city-main
  - id: community-a
    name: 甲社区
    tier: community
    parent: district-xincheng
  - id: community-b
    name: 乙社区
    tier: community
    parent: district-xincheng
  - id: district-laocheng
    name: 老城区
    tier: district
    parent: city-main
items:
`, 1)
}

func TestSubtree(t *testing.T) {
	cfg, err := Parse([]byte(treeFile()))
	require.NoError(t, err)
	keys := func(m map[string]bool) []string {
		var out []string
		for _, h := range cfg.Halls {
			if m[h.ID] {
				out = append(out, h.ID)
			}
		}
		return out
	}
	tests := []struct {
		roots, want, unknown []string
	}{
		{[]string{"district-xincheng"}, []string{"district-xincheng", "community-a", "community-b"}, nil},
		{[]string{"community-b", "district-laocheng"}, []string{"community-b", "district-laocheng"}, nil},
		{[]string{"city-main"}, []string{"city-main", "district-xincheng", "community-a", "community-b", "district-laocheng"}, nil},
		{[]string{"nowhere", "community-a", "elsewhere"}, []string{"community-a"}, []string{"nowhere", "elsewhere"}},
		{nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.roots, ","), func(t *testing.T) {
			set, unknown := cfg.Subtree(tt.roots)
			require.Equal(t, tt.want, keys(set))
			require.Equal(t, tt.unknown, unknown)
		})
	}
	require.Empty(t, cfg.CheckScope([]string{"community-a"}))
	require.Equal(t, "unknown hall id(s) nowhere, elsewhere", cfg.CheckScope([]string{"nowhere", "community-a", "elsewhere"}))
}

func TestAPIKeyScope(t *testing.T) {
	src := strings.Replace(treeFile(), `sha256 of the key "demo-queue-key"`+"\n", `sha256 of the key "demo-queue-key"`+"\n      scope: [district-xincheng]\n", 1)
	cfg, err := Parse([]byte(src))
	require.NoError(t, err)
	require.Equal(t, []string{"district-xincheng"}, cfg.Auth.APIKeys[0].Scope)

	_, err = Parse([]byte(strings.Replace(src, "scope: [district-xincheng]", "scope: [district-xincheng, district-nowhere]", 1)))
	require.ErrorContains(t, err, "auth.api_keys[0].scope")
	require.ErrorContains(t, err, "unknown hall id(s) district-nowhere")
}
