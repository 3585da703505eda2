package supervision

import (
	"strings"
	"time"
)

// Alert kinds.
const (
	KindCaseDueSoon   = "case_due_soon"
	KindCaseOverdue   = "case_overdue"
	KindStepOverrun   = "step_overrun"
	KindLongWait      = "long_wait"
	KindUnattended    = "unattended"
	KindCameraOffline = "camera_offline"
	KindBadRating     = "bad_rating"
	KindSpoolFull     = "spool_full"
	KindDiskFull      = "disk_full"
)

// Kinds lists every alert kind, for filters and messages.
var Kinds = []string{KindCaseDueSoon, KindCaseOverdue, KindStepOverrun, KindLongWait, KindUnattended,
	KindCameraOffline, KindBadRating, KindSpoolFull, KindDiskFull}

// Severities.
const (
	Yellow = "yellow"
	Red    = "red"
)

// Alert is one supervision alert.
type Alert struct {
	// ID is derived from the condition (kind, subject and, for conditions
	// that can clear and recur, the start of the occurrence), so that a
	// restart or a replay raises the same ID.
	ID                                 string
	Kind                               string // one of the Kind constants
	Severity                           string // yellow | red
	Hall, Window, CaseID, Ticket, Item string
	// Message is Chinese, short, and names the subject; MessageEN is its
	// English version.
	Message   string
	MessageEN string
	// RaisedAt is when the condition became true: for time rules the
	// moment the threshold was crossed, not the tick that noticed it.
	RaisedAt time.Time
}

// alertID joins kind and subject parts with ':'.
func alertID(parts ...string) string { return strings.Join(parts, ":") }

// stamp formats an occurrence start for an ID.
func stamp(t time.Time) string { return t.UTC().Format("20060102T150405Z") }
