package ident

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name, id string
		want     error
	}{
		{"case id", "HH-2026-000123", nil},
		{"uuid", "0b6f4d1e-7c1a-4f5e-9d0a-2b8c6e1f3a47", nil},
		{"chinese case number", "京市监（2026）123号", nil},
		{"ticket", "A031", nil},
		{"punctuation", "x.y_z:1#2@h+3(a)[b]", nil},
		{"longest", strings.Repeat("a", MaxLen), nil},
		{"empty", "", ErrEmpty},
		{"too long", strings.Repeat("a", MaxLen+1), ErrTooLong},
		{"100 KB", strings.Repeat("a", 100<<10), ErrTooLong},
		{"NUL", "A\x00B", ErrBadChars},
		{"control", "A\tB", ErrBadChars},
		{"space", "A B", ErrBadChars},
		{"slash", "A/B", ErrBadChars},
		{"percent", "A%00B", ErrBadChars},
		{"quote", `A"B`, ErrBadChars},
		{"invalid UTF-8", "A\xffB", ErrBadUTF8},
		{"truncated UTF-8", "A\xe4\xb8", ErrBadUTF8},
		{"replacement char", "A\uFFFDB", ErrBadUTF8},
		{"emoji", "A😀", ErrBadChars},
		{"ideographic space", "A\u3000B", ErrBadChars},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Check(tt.id); got != tt.want {
				t.Fatalf("Check(%q) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{"HH-2026-000123", "京市监（2026）123号", "A\x00B", "A\xffB", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if Check(s) != nil {
			return
		}
		if len(s) == 0 || len(s) > MaxLen || strings.ContainsAny(s, " /\x00\t\r\n%\"'<>\\?&") || strings.ContainsRune(s, '\uFFFD') {
			t.Fatalf("%q accepted", s)
		}
	})
}
