package console

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// windowFeedInterval is how often the window feed compares every window's
// state with what it pushed last. The tracker changes state on every
// event, many per second in a busy city; comparing on a clock bounds the
// cost (one pass over the windows per interval, whatever the number of
// viewers) and the delay a wall shows (at most this much).
const windowFeedInterval = 500 * time.Millisecond

// windowFeed pushes the changes of the windows' live state (queue, camera,
// open alerts: a windowView) to the live walls' SSE streams. It runs only
// while someone subscribes.
type windowFeed struct {
	views func() []windowView

	mu   sync.Mutex
	subs map[*windowSub]struct{}
	last map[string]string // window -> the JSON of its view last pushed
	stop chan struct{}     // ends the running loop; nil when not running
}

type windowSub struct {
	scope hallScope // the windows it is sent; nil: all
	ch    chan sseMessage
	gone  chan struct{} // closed when the feed dropped a subscriber too slow to keep up
}

func newWindowFeed(views func() []windowView) *windowFeed {
	return &windowFeed{views: views, subs: map[*windowSub]struct{}{}}
}

// subscribe returns a new subscriber and the snapshot it starts from. The
// snapshot is taken under the feed's lock, so no change computed before it
// reaches the subscriber after it.
func (f *windowFeed) subscribe(scope hallScope) (*windowSub, []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	views := f.views()
	if f.stop == nil {
		f.last = map[string]string{}
		for _, v := range views {
			b, _ := json.Marshal(v)
			f.last[v.ID] = string(b)
		}
		f.stop = make(chan struct{})
		go f.run(f.stop)
	}
	sub := &windowSub{scope: scope, ch: make(chan sseMessage, subBuffer), gone: make(chan struct{})}
	f.subs[sub] = struct{}{}
	return sub, windowsMessage(inScope(views, scope), true)
}

func (f *windowFeed) unsubscribe(sub *windowSub) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.subs, sub)
	if len(f.subs) == 0 && f.stop != nil {
		close(f.stop)
		f.stop, f.last = nil, nil
	}
}

func (f *windowFeed) run(stop chan struct{}) {
	tick := time.NewTicker(windowFeedInterval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			f.push()
		}
	}
}

// push sends the windows whose view changed since the last push.
func (f *windowFeed) push() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stop == nil {
		return
	}
	var changed []windowView
	for _, v := range f.views() {
		b, _ := json.Marshal(v)
		if f.last[v.ID] != string(b) {
			f.last[v.ID] = string(b)
			changed = append(changed, v)
		}
	}
	if len(changed) == 0 {
		return
	}
	msg := sseMessage{event: "windows", data: windowsMessage(changed, false)}
	for sub := range f.subs {
		msg := msg
		if !sub.scope.all() {
			mine := inScope(changed, sub.scope)
			if len(mine) == 0 {
				continue
			}
			msg.data = windowsMessage(mine, false)
		}
		select {
		case sub.ch <- msg:
		default:
			delete(f.subs, sub)
			close(sub.gone)
		}
	}
}

// windowsMessage is the data of a "windows" event: every window
// (snapshot) or those that changed.
func windowsMessage(views []windowView, snapshot bool) []byte {
	b, _ := json.Marshal(struct {
		Snapshot bool         `json:"snapshot"`
		Windows  []windowView `json:"windows"`
	}{snapshot, views})
	return b
}

// handleWindowStream serves the windows' live state as server-sent
// events: first "windows" with every window (snapshot: true), as GET
// /api/v1/windows gives them, then "windows" with those whose state
// changed, within windowFeedInterval of the change. A browser reconnects
// by itself and starts again from a snapshot. ?snapshot=1 ends the stream
// after the snapshot (for scripts).
func (s *Server) handleWindowStream(c *gin.Context) {
	release, ok := s.openStream(c)
	if !ok {
		return
	}
	defer release()
	sub, snapshot := s.windowFeed.subscribe(caller(c).scope)
	defer s.windowFeed.unsubscribe(sub)
	openSSE(c.Writer)
	writeSSE(c.Writer, sseMessage{event: "windows", data: snapshot})
	c.Writer.Flush()
	if c.Query("snapshot") == "1" {
		return
	}
	s.pumpSSE(c, sub.ch, sub.gone)
}
