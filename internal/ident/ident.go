// Package ident is the one grammar of the ids Sunlight takes from outside:
// event ids, case ids, tickets, staff ids, window, hall and item codes, in
// events and in URL paths. An id is 1 to MaxLen bytes of letters and digits
// (any script: a case number may carry Chinese), and the punctuation
// . _ - : # @ + ( ) [ ] and the full-width （ ） 〔 〕 【 】. No spaces, no
// control characters (NUL among them), no slash (an id must fit in one URL
// path segment), no invalid UTF-8 and no U+FFFD (what a decoder leaves of
// invalid UTF-8).
package ident

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// MaxLen bounds an id in bytes.
const MaxLen = 128

// Why an id is refused. The errors say what is wrong without repeating the
// id, which may be long or unprintable.
var (
	ErrEmpty    = errors.New("empty")
	ErrTooLong  = fmt.Errorf("longer than %d bytes", MaxLen)
	ErrBadUTF8  = errors.New("not valid UTF-8")
	ErrBadChars = errors.New("only letters, digits and . _ - : # @ + ( ) [ ] are allowed (no spaces or control characters)")
)

// ascii marks the ASCII bytes an id may hold.
var ascii = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "._-:#@+()[]" {
		t[c] = true
	}
	return t
}()

// Check returns nil for a valid id, or one of the Err* errors.
func Check(s string) error {
	if s == "" {
		return ErrEmpty
	}
	if len(s) > MaxLen {
		return ErrTooLong
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if !ascii[c] {
				return ErrBadChars
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError {
			if n <= 1 {
				return ErrBadUTF8
			}
			return ErrBadUTF8 // U+FFFD: what a decoder leaves of invalid UTF-8
		}
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r) && !fullWidth(r) {
			return ErrBadChars
		}
		i += n
	}
	return nil
}

// Valid reports whether s is a valid id.
func Valid(s string) bool { return Check(s) == nil }

func fullWidth(r rune) bool {
	switch r {
	case '（', '）', '〔', '〕', '【', '】':
		return true
	}
	return false
}
