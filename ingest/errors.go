package ingest

import (
	"errors"
	"strings"
)

// joinErrors folds field problems into one line ("a: ...; b: ...") so an
// API client sees every problem of an event in one message.
func joinErrors(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}
