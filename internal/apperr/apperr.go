// Package apperr holds the kinds of error that the HTTP edge maps to status
// codes. Packages wrap their errors with a kind (fmt.Errorf("...: %w",
// apperr.NotFound) or apperr.New) and the console's one error writer picks
// the status; an error of no kind is an internal error and its text is
// logged, never shown.
package apperr

import (
	"errors"
	"fmt"
)

// The kinds. Their text is not shown on its own: the wrapping message is.
var (
	Invalid      = errors.New("invalid")
	Unauthorized = errors.New("unauthorized")
	Forbidden    = errors.New("forbidden")
	NotFound     = errors.New("not found")
	Conflict     = errors.New("conflict")
	TooLarge     = errors.New("too large")
	Unavailable  = errors.New("unavailable")
	TooMany      = errors.New("too many requests")
)

// kindError is a message that belongs to a kind.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

// New makes an error of a kind whose text is exactly the formatted message.
func New(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}
