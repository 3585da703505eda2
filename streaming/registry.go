package streaming

import (
	"sort"
	"sync"
)

// Registry holds the streams by id (the window). It is a StreamSource.
type Registry struct {
	mu      sync.RWMutex
	streams map[string]*Stream // guarded by mu
}

// Add adds a stream, replacing (not closing) one with the same id.
func (r *Registry) Add(s *Stream) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.streams == nil {
		r.streams = make(map[string]*Stream)
	}
	r.streams[s.ID()] = s
}

// Remove removes a stream by id and returns it.
func (r *Registry) Remove(id string) (*Stream, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.streams[id]
	delete(r.streams, id)
	return s, ok
}

// Stream finds a stream.
func (r *Registry) Stream(id string) (*Stream, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.streams[id]
	return s, ok
}

// All returns the streams ordered by id.
func (r *Registry) All() []*Stream {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Stream, 0, len(r.streams))
	for _, s := range r.streams {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID() < out[j].ID() })
	return out
}
