package console

import (
	"github.com/sunlight-gov/sunlight/internal/apperr"
	"github.com/sunlight-gov/sunlight/internal/config"
)

// hallScope is the set of halls a user or an API key may see: those of its
// scope and every hall under them. nil is the whole city (no scope).
type hallScope map[string]bool

// scopeOf resolves a configured scope (hall ids) to its halls. An id the
// configuration no longer has covers nothing: a scope fails closed.
func scopeOf(cfg *config.Config, roots []string) hallScope {
	if len(roots) == 0 {
		return nil
	}
	set, _ := cfg.Subtree(roots)
	return hallScope(set)
}

// all reports whether the scope is the whole city.
func (sc hallScope) all() bool { return sc == nil }

// has reports whether a hall is in the scope.
func (sc hallScope) has(hall string) bool { return sc == nil || sc[hall] }

// halls lists the scope's halls in configuration order (nil for the whole
// city), for the analytics filters.
func (sc hallScope) halls(cfg *config.Config) []string {
	if sc == nil {
		return nil
	}
	out := []string{}
	for _, h := range cfg.Halls {
		if sc[h.ID] {
			out = append(out, h.ID)
		}
	}
	return out
}

// checkHall is the 403 for a hall outside the scope; nil inside.
func (sc hallScope) checkHall(hall string) error {
	if sc.has(hall) {
		return nil
	}
	return apperr.HallOutOfScope.New(apperr.P{"hall": hall}, "hall %q is outside your scope", hall)
}

// checkWindow is the 403 for a window of a hall outside the scope; nil
// inside, or for a window no hall has (the caller answers that).
func (sc hallScope) checkWindow(cfg *config.Config, window string) error {
	if sc == nil {
		return nil
	}
	ref, ok := cfg.FindWindow(window)
	if !ok || sc[ref.Hall.ID] {
		return nil
	}
	return apperr.WindowOutOfScope.New(apperr.P{"window": window}, "window %q is outside your scope", window)
}
