// Package apperr holds the kinds of error that the HTTP edge maps to status
// codes, and the codes that name the errors a client is shown. Packages
// wrap their errors with a kind (fmt.Errorf("...: %w", apperr.NotFound) or
// apperr.New), or make them with a code (apperr.CaseNotFound.New), and the
// console's one error writer picks the status; an error of no kind is an
// internal error and its text is logged, never shown.
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
// It has no code: the console shows its text as it is, so prefer a Code's
// New for anything a person using the console can run into.
func New(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// P holds the parameters of a coded error: the values its translations
// name ({case}, {max}, ...). A parameter named "at" is an RFC 3339 time,
// which the console shows in the halls' time zone.
type P map[string]any

// Error is an error with a code: its text is for API clients and logs, its
// code and parameters let the console show it in the user's language.
// An Error is errors.Is its code's kind and any other Error of the same
// code, so a package may keep a sentinel of a code (for callers to test
// with errors.Is) and return it with parameters.
type Error struct {
	Code   *Code
	Params P
	err    error // the message; anything its format wrapped with %w is under it
}

func (e *Error) Error() string { return e.err.Error() }
func (e *Error) Unwrap() error { return e.err }

func (e *Error) Is(target error) bool {
	if e.Code.kind != nil && target == e.Code.kind {
		return true
	}
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// CodeOf returns the coded error in err's chain, if there is one.
func CodeOf(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
