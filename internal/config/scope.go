package config

import "strings"

// Subtree is the set of halls at or under the given roots in the hall tree
// (each hall's parent chain). It returns the ids among roots that name no
// hall, in their order; a nil roots is the empty set.
func (c *Config) Subtree(roots []string) (set map[string]bool, unknown []string) {
	want := map[string]bool{}
	for _, r := range roots {
		if _, ok := c.FindHall(r); !ok {
			unknown = append(unknown, r)
			continue
		}
		want[r] = true
	}
	parent := make(map[string]string, len(c.Halls))
	for _, h := range c.Halls {
		parent[h.ID] = h.Parent
	}
	set = map[string]bool{}
	for _, h := range c.Halls {
		// Validate refuses parent cycles; the bound keeps a config that
		// skipped it from looping.
		for id, n := h.ID, 0; id != "" && n <= len(c.Halls); id, n = parent[id], n+1 {
			if want[id] {
				set[h.ID] = true
				break
			}
		}
	}
	return set, unknown
}

// CheckScope returns an error text naming the hall ids of scope that are
// not configured, or "" when every one is.
func (c *Config) CheckScope(scope []string) string {
	_, unknown := c.Subtree(scope)
	if len(unknown) == 0 {
		return ""
	}
	return "unknown hall id(s) " + strings.Join(unknown, ", ")
}
