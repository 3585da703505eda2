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
	// Camera is the camera's state; absent when live video is not running.
	Camera *CameraStatus `json:"camera,omitempty"`
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

// handleWindows lists every window with its camera's state. The current
// case and the queue length join this view with queue tracking.
func (s *Server) handleWindows(c *gin.Context) {
	out := []windowView{}
	for _, ref := range s.Config.Windows() {
		w := ref.Window
		v := windowView{ID: w.ID, Name: w.Name, Hall: ref.Hall.ID, Department: w.Department, Items: w.Items}
		if s.Cameras != nil {
			if st, ok := s.Cameras.CameraStatus(w.ID); ok {
				v.Camera = &st
			}
		}
		out = append(out, v)
	}
	c.JSON(http.StatusOK, gin.H{"windows": out})
}
