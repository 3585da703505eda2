package console

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

type windowView struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Hall       string   `json:"hall"`
	Department string   `json:"department"`
	Items      []string `json:"items"`
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
	for _, h := range s.Config.Halls {
		hv := hallView{ID: h.ID, Name: h.Name, Tier: string(h.Tier), Parent: h.Parent, Windows: []windowView{}}
		for _, w := range h.Windows {
			hv.Windows = append(hv.Windows, windowView{ID: w.ID, Name: w.Name, Hall: h.ID, Department: w.Department, Items: w.Items})
		}
		out = append(out, hv)
	}
	c.JSON(http.StatusOK, gin.H{"halls": out})
}

// handleWindows lists every window. Camera state, the current case and the
// queue length join this view as live ingest and queue tracking land.
func (s *Server) handleWindows(c *gin.Context) {
	out := []windowView{}
	for _, ref := range s.Config.Windows() {
		w := ref.Window
		out = append(out, windowView{ID: w.ID, Name: w.Name, Hall: ref.Hall.ID, Department: w.Department, Items: w.Items})
	}
	c.JSON(http.StatusOK, gin.H{"windows": out})
}
