package console

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sunlight-gov/sunlight/analytics/tracker"
)

type windowView struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Hall       string   `json:"hall"`
	Department string   `json:"department"`
	Items      []string `json:"items"`
	// Camera is the camera's state; absent when live video is not running.
	Camera *CameraStatus `json:"camera,omitempty"`
	// Queue is the window's live queue state; absent without supervision.
	Queue *queueView `json:"queue,omitempty"`
	// Alerts counts the window's unacknowledged alerts.
	Alerts windowAlerts `json:"alerts"`
}

// queueView is what the queue system says of a window right now.
type queueView struct {
	Status string `json:"status"` // closed | open | paused
	Since  string `json:"since,omitempty"`
	// Serving is the ticket called or being served; absent when idle.
	Serving *servingView `json:"serving,omitempty"`
	// Length counts the tickets waiting that this window could call.
	Length        int    `json:"length"`
	OldestWaiting string `json:"oldest_waiting,omitempty"`
}

type servingView struct {
	Ticket  string `json:"ticket"`
	CaseID  string `json:"case_id,omitempty"`
	Item    string `json:"item,omitempty"`
	Staff   string `json:"staff,omitempty"`
	Called  string `json:"called"`
	Started string `json:"started,omitempty"`
	Calls   int    `json:"calls"`
}

// floorState is the live queue state of every window (the supervision
// engine's tracker).
type floorState interface {
	Windows() []tracker.WindowState
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func viewQueue(w tracker.WindowState) *queueView {
	q := &queueView{Status: w.Status, Since: rfc3339(w.Since), Length: w.QueueLength, OldestWaiting: rfc3339(w.OldestWaiting)}
	if sv := w.Serving; sv != nil {
		q.Serving = &servingView{Ticket: sv.Ticket, CaseID: sv.CaseID, Item: sv.Item, Staff: sv.Staff,
			Called: rfc3339(sv.Called), Started: rfc3339(sv.Started), Calls: sv.Calls}
	}
	return q
}

type hallView struct {
	ID      string       `json:"id"`
	Name    string       `json:"name"`
	Tier    string       `json:"tier"`
	Parent  string       `json:"parent,omitempty"`
	Windows []windowView `json:"windows"`
}

// handleHalls returns the hall tree as configured (flat, each hall naming
// its parent), for the console's navigation.
func (s *Server) handleHalls(c *gin.Context) {
	out := make([]hallView, 0, len(s.Config.Halls))
	scope := caller(c).scope
	for _, h := range s.Config.Halls {
		if !scope.has(h.ID) {
			continue // a scoped user's tree starts at its scope's halls
		}
		hv := hallView{ID: h.ID, Name: h.Name, Tier: string(h.Tier), Parent: h.Parent, Windows: []windowView{}}
		for _, w := range h.Windows {
			hv.Windows = append(hv.Windows, windowView{ID: w.ID, Name: w.Name, Hall: h.ID, Department: w.Department, Items: w.Items})
		}
		out = append(out, hv)
	}
	c.JSON(http.StatusOK, gin.H{"halls": out})
}

// handleWindows lists every window with its camera's state, its live queue
// state (status, the ticket and case being served, the queue length) and
// its open alerts.
func (s *Server) handleWindows(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"windows": inScope(s.windowViews(), caller(c).scope)})
}

// inScope keeps the views of the windows whose hall is in scope.
func inScope(views []windowView, scope hallScope) []windowView {
	if scope.all() {
		return views
	}
	out := []windowView{}
	for _, v := range views {
		if scope.has(v.Hall) {
			out = append(out, v)
		}
	}
	return out
}

// windowViews is every window's state now, in config order.
func (s *Server) windowViews() []windowView {
	out := []windowView{}
	queues := map[string]tracker.WindowState{}
	if s.Supervision != nil {
		for _, w := range s.Supervision.Windows() {
			queues[w.Window] = w
		}
	}
	alerts := s.alerts.openAlerts()
	for _, ref := range s.Config.Windows() {
		w := ref.Window
		v := windowView{ID: w.ID, Name: w.Name, Hall: ref.Hall.ID, Department: w.Department, Items: w.Items, Alerts: alerts[w.ID]}
		if q, ok := queues[w.ID]; ok {
			v.Queue = viewQueue(q)
		}
		if s.Cameras != nil {
			if st, ok := s.Cameras.CameraStatus(w.ID); ok {
				v.Camera = &st
			}
		}
		out = append(out, v)
	}
	return out
}
