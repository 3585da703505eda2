package console

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sunlight-gov/sunlight/analytics/tracker"
	"github.com/sunlight-gov/sunlight/internal/apperr"
	"github.com/sunlight-gov/sunlight/internal/config"
)

// The public face (政务公开): case progress by case number and the item
// catalog, without sign-in. A public case view names the item, the hall
// and the dates; never the window, the staff, the ticket or anything about
// the applicant.

// The *_en fields are the English names the configuration gives, absent
// when it gives none (the console then shows the name in both languages).
type publicItemView struct {
	Code          string   `json:"code"`
	Name          string   `json:"name"`
	NameEN        string   `json:"name_en,omitempty"`
	Department    string   `json:"department"`
	DepartmentEN  string   `json:"department_en,omitempty"`
	TimeLimitDays int      `json:"time_limit_days"`
	LegalBasis    string   `json:"legal_basis,omitempty"`
	Materials     []string `json:"materials"`
	Steps         []string `json:"steps"`
	Fee           string   `json:"fee,omitempty"`
	Phone         string   `json:"phone,omitempty"`
	Halls         []string `json:"halls"` // ids of the halls with a window that handles it
}

type publicCaseView struct {
	CaseID string `json:"case_id"`
	Item   struct {
		Code          string `json:"code"`
		Name          string `json:"name"`
		NameEN        string `json:"name_en,omitempty"`
		Department    string `json:"department"`
		DepartmentEN  string `json:"department_en,omitempty"`
		TimeLimitDays int    `json:"time_limit_days"`
		Phone         string `json:"phone,omitempty"`
	} `json:"item"`
	Hall struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"hall"`
	// State is accepted (in progress), completed or rejected.
	State       string `json:"state"`
	StateText   string `json:"state_text"`
	AcceptedAt  string `json:"accepted_at,omitempty"`
	Deadline    string `json:"deadline,omitempty"` // the last day, YYYY-MM-DD, local
	CompletedAt string `json:"completed_at,omitempty"`
	// OnTime is set once the case is completed.
	OnTime *bool `json:"on_time,omitempty"`
	// WorkdaysUsed counts the working days after the day of acceptance up
	// to completion (or to today, included); WorkdaysLeft those of the
	// limit still left while open (0 on the last day).
	WorkdaysUsed int  `json:"workdays_used"`
	WorkdaysLeft *int `json:"workdays_left,omitempty"`
	Overdue      bool `json:"overdue"`
}

var stateText = map[string]string{"accepted": "办理中", "completed": "已办结", "rejected": "不予受理"}

func (s *Server) itemView(it *config.Item) publicItemView {
	v := publicItemView{Code: it.Code, Name: it.Name, NameEN: it.NameEN, Department: it.Department,
		DepartmentEN: s.Config.DepartmentEN(it.Department), TimeLimitDays: it.TimeLimitDays,
		LegalBasis: it.LegalBasis, Materials: it.Materials, Steps: it.Steps, Fee: it.Fee, Phone: it.Phone, Halls: []string{}}
	if v.Materials == nil {
		v.Materials = []string{}
	}
	if v.Steps == nil {
		v.Steps = []string{}
	}
	for _, h := range s.Config.Halls {
		for _, w := range h.Windows {
			if slices.Contains(w.Items, it.Code) {
				v.Halls = append(v.Halls, h.ID)
				break
			}
		}
	}
	return v
}

type siteView struct {
	// Timezone is the halls' time zone (IANA name): the console shows
	// every time in it, whatever the browser's zone.
	Timezone string `json:"timezone"`
	// Departments are every department of the windows and items, with
	// their English names where the configuration gives one.
	Departments []departmentView `json:"departments"`
}

type departmentView struct {
	Name   string `json:"name"`
	NameEN string `json:"name_en,omitempty"`
}

// handleSite serves GET /api/v1/public/site: what the console needs before
// it shows a page, signed in or not (the public pages show times too).
func (s *Server) handleSite(c *gin.Context) {
	v := siteView{Timezone: s.Config.Location().String(), Departments: []departmentView{}}
	for _, d := range s.Config.AllDepartments() {
		v.Departments = append(v.Departments, departmentView{Name: d.Name, NameEN: d.NameEN})
	}
	c.JSON(http.StatusOK, v)
}

// handlePublicItems lists the item catalog: ?department= keeps one
// department's items, ?q= those whose code or name contains it.
func (s *Server) handlePublicItems(c *gin.Context) {
	dept, q := c.Query("department"), strings.ToLower(strings.TrimSpace(c.Query("q")))
	out := []publicItemView{}
	for i := range s.Config.Items {
		it := &s.Config.Items[i]
		if dept != "" && it.Department != dept {
			continue
		}
		if q != "" && !strings.Contains(strings.ToLower(it.Code), q) && !strings.Contains(strings.ToLower(it.Name), q) {
			continue
		}
		out = append(out, s.itemView(it))
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

func (s *Server) handlePublicItem(c *gin.Context) {
	code := c.Param("code")
	it, ok := s.Config.FindItem(code)
	if !ok {
		writeError(c, s.log, apperr.ItemNotFound.New(apperr.P{"item": code}, "item %q: no such item in the catalog", code))
		return
	}
	c.JSON(http.StatusOK, s.itemView(it))
}

// handlePublicCase shows a case's progress to anyone with its number.
// Lookups are rate limited per client address, so case numbers cannot be
// enumerated quickly.
func (s *Server) handlePublicCase(c *gin.Context) {
	if !s.publicLimit.allow(c.ClientIP(), s.Now()) {
		writeError(c, s.log, apperr.TooManyLookups.New(nil, "too many case lookups from this address: wait a minute"))
		return
	}
	id := c.Param("case_id") // checked by checkPathIDs
	states, err := s.Store.CaseStates(c.Request.Context(), []string{id})
	if err != nil {
		writeError(c, s.log, apperr.ServiceUnavailable.New(nil, "case lookup unavailable: retry later"))
		s.log.Warn("public case lookup", "err", err)
		return
	}
	if len(states) == 0 {
		writeError(c, s.log, apperr.CaseNotFound.New(apperr.P{"case": id}, "case %s: no such case (check the number on your receipt)", id))
		return
	}
	c.JSON(http.StatusOK, s.publicCase(states[0]))
}

func (s *Server) publicCase(cs tracker.CaseState) publicCaseView {
	loc := s.Config.Location()
	v := publicCaseView{CaseID: cs.CaseID, State: cs.State, StateText: stateText[cs.State]}
	v.Item.Code = cs.Item
	if it, ok := s.Config.FindItem(cs.Item); ok {
		v.Item.Name, v.Item.NameEN, v.Item.Department, v.Item.TimeLimitDays, v.Item.Phone = it.Name, it.NameEN, it.Department, it.TimeLimitDays, it.Phone
		v.Item.DepartmentEN = s.Config.DepartmentEN(it.Department)
	}
	v.Hall.ID = cs.Hall
	if h, ok := s.Config.FindHall(cs.Hall); ok {
		v.Hall.Name = h.Name
	}
	if !cs.Accepted.IsZero() {
		v.AcceptedAt = cs.Accepted.In(loc).Format(time.RFC3339)
	}
	if !cs.Deadline.IsZero() {
		// Deadline is the midnight after the last day: show the last day.
		v.Deadline = cs.Deadline.In(loc).Add(-time.Second).Format(time.DateOnly)
	}
	now := s.Now()
	switch {
	case !cs.Completed.IsZero():
		v.CompletedAt = cs.Completed.In(loc).Format(time.RFC3339)
		if cs.State == "completed" {
			onTime := cs.OnTime
			v.OnTime = &onTime
			v.Overdue = !onTime
		}
		if !cs.Accepted.IsZero() {
			v.WorkdaysUsed = s.calendar.WorkdaysBetween(cs.Accepted, cs.Completed)
		}
	case !cs.Accepted.IsZero():
		v.WorkdaysUsed = s.calendar.WorkdaysBetween(cs.Accepted, now)
		if !cs.Deadline.IsZero() {
			// The limit counts the working days after the day of
			// acceptance; today counts as used once it began.
			limit := s.calendar.WorkdaysBetween(cs.Accepted, cs.Deadline.Add(-time.Second))
			left := max(limit-v.WorkdaysUsed, 0)
			v.WorkdaysLeft = &left
			v.Overdue = !now.Before(cs.Deadline)
		}
	}
	return v
}

// rateLimit allows each key a burst of up to perMinute requests, refilled
// continuously. Keys idle for a while are forgotten.
type rateLimit struct {
	perMinute float64
	mu        sync.Mutex
	buckets   map[string]*bucket
	swept     time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

func (r *rateLimit) allow(key string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.buckets == nil {
		r.buckets = map[string]*bucket{}
	}
	if now.Sub(r.swept) > 10*time.Minute {
		for k, b := range r.buckets {
			if now.Sub(b.at) > 10*time.Minute {
				delete(r.buckets, k)
			}
		}
		r.swept = now
	}
	b, ok := r.buckets[key]
	if !ok {
		b = &bucket{tokens: r.perMinute, at: now}
		r.buckets[key] = b
	}
	b.tokens = min(r.perMinute, b.tokens+now.Sub(b.at).Minutes()*r.perMinute)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
