package apperr

import (
	"errors"
	"fmt"
	"regexp"
	"testing"
)

func TestCodedErrors(t *testing.T) {
	sentinel := errors.New("base")
	err := CaseNotFound.New(P{"case": "CM-1"}, "case %s: %w", "CM-1", sentinel)
	wrapped := fmt.Errorf("lookup: %w", err)
	tests := []struct {
		name   string
		target error
		want   bool
	}{
		{"its kind", NotFound, true},
		{"another kind", Invalid, false},
		{"what its format wrapped", sentinel, true},
		{"a sentinel of the same code", CaseNotFound.New(nil, "no such case"), true},
		{"an error of another code", ItemNotFound.New(nil, "no such item"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errors.Is(wrapped, tt.target); got != tt.want {
				t.Fatalf("errors.Is(%v, %v) = %v, want %v", wrapped, tt.target, got, tt.want)
			}
		})
	}
	if err.Error() != "case CM-1: base" {
		t.Fatalf("text %q", err.Error())
	}
	e, ok := CodeOf(wrapped)
	if !ok || e.Code != CaseNotFound || e.Params["case"] != "CM-1" {
		t.Fatalf("CodeOf(%v) = %+v, %v", wrapped, e, ok)
	}
	if _, ok := CodeOf(New(NotFound, "plain")); ok {
		t.Fatal("an error made by New has no code")
	}
	if errors.Is(Internal.New(nil, "x"), nil) {
		t.Fatal("a code of no kind is not errors.Is nil")
	}
}

func TestCodeNames(t *testing.T) {
	name := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	seen := map[string]bool{}
	for _, c := range Codes() {
		if !name.MatchString(c.Name()) {
			t.Errorf("code %q: names are snake_case", c.Name())
		}
		if seen[c.Name()] {
			t.Errorf("code %q is declared twice", c.Name())
		}
		seen[c.Name()] = true
	}
	if len(seen) < 10 {
		t.Fatalf("only %d codes", len(seen))
	}
}
