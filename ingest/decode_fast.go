package ingest

import (
	"bytes"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The fast path of DecodeBatch. encoding/json costs about 7 µs an event
// here (a raw message per field, each unmarshalled on its own, to name the
// field of a type error); the intake's target of 200,000 events a second
// on two cores leaves well under 1 µs. fastDecode reads the common shape —
// a JSON array of flat objects whose values are strings without escapes,
// integers or null — by hand, and gives up (ok == false) at anything else:
// the slow path then decodes the whole body and words the errors.

// fastDecode returns the batch's items, or ok == false.
func fastDecode(body []byte) (items []Item, ok bool) {
	p := skipSpace(body, 0)
	if p >= len(body) || body[p] != '[' {
		return nil, false
	}
	p = skipSpace(body, p+1)
	if p < len(body) && body[p] == ']' {
		return nil, false // empty: the slow path says so
	}
	items = make([]Item, 0, len(body)/180+1)
	in := interner{}
	for {
		var ev Event
		if p, ok = fastObject(body, p, &ev, in); !ok {
			return nil, false
		}
		items = append(items, Item{Index: len(items), Event: ev})
		p = skipSpace(body, p)
		if p >= len(body) {
			return nil, false
		}
		switch body[p] {
		case ',':
			p = skipSpace(body, p+1)
		case ']':
			if skipSpace(body, p+1) != len(body) {
				return nil, false
			}
			return items, true
		default:
			return nil, false
		}
	}
}

// fastObject reads one flat object at p into ev and returns the position
// after it. Field values are trimmed like the slow path does.
func fastObject(b []byte, p int, ev *Event, in interner) (int, bool) {
	if p >= len(b) || b[p] != '{' {
		return p, false
	}
	p = skipSpace(b, p+1)
	if p < len(b) && b[p] == '}' {
		return p + 1, true
	}
	for {
		key, np, ok := fastString(b, p)
		if !ok {
			return p, false
		}
		p = skipSpace(b, np)
		if p >= len(b) || b[p] != ':' {
			return p, false
		}
		p = skipSpace(b, p+1)
		if p >= len(b) {
			return p, false
		}
		switch c := b[p]; {
		case c == '"':
			val, np, ok := fastString(b, p)
			if !ok {
				return p, false
			}
			p = np
			if !setField(ev, key, val, in) {
				return p, false
			}
		case c == 'n':
			if !bytes.HasPrefix(b[p:], []byte("null")) {
				return p, false
			}
			p += 4
		case c == '-' || (c >= '0' && c <= '9'):
			end := p + 1
			for end < len(b) && b[end] >= '0' && b[end] <= '9' {
				end++
			}
			digits := b[p:end]
			if digits[0] == '-' {
				digits = digits[1:]
			}
			if string(key) != "rating" || len(digits) == 0 || len(digits) > 1 && digits[0] == '0' ||
				end < len(b) && (b[end] == '.' || b[end] == 'e' || b[end] == 'E') {
				return p, false
			}
			n, err := strconv.Atoi(string(b[p:end]))
			if err != nil {
				return p, false
			}
			ev.Rating = n
			p = end
		default:
			return p, false
		}
		p = skipSpace(b, p)
		if p >= len(b) {
			return p, false
		}
		switch b[p] {
		case ',':
			p = skipSpace(b, p+1)
		case '}':
			return p + 1, true
		default:
			return p, false
		}
	}
}

// setField stores a string value; false for a field the fast path does not
// handle (rating as a string, ts that does not parse, a key that differs
// from a field's only in case); unknown keys are ignored like encoding/json
// does.
func setField(ev *Event, key, val []byte, in interner) bool {
	if v := bytes.TrimSpace(val); (len(v) == 15 || len(v) == 18) && looksLikeResidentID(string(v)) {
		return false // personal data: the slow path rejects the event
	}
	switch string(key) {
	case "event_id":
		ev.EventID = trimmed(val)
	case "type":
		ev.Type = EventType(in.get(bytes.TrimSpace(val)))
	case "ts":
		s := strings.TrimSpace(string(val))
		if s == "" {
			return true
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || t.IsZero() {
			return false // the slow path says what is wrong
		}
		ev.TS = t.UTC()
	case "hall":
		ev.Hall = in.get(bytes.TrimSpace(val))
	case "window":
		ev.Window = in.get(bytes.TrimSpace(val))
	case "case_id":
		ev.CaseID = trimmed(val)
	case "ticket":
		ev.Ticket = trimmed(val)
	case "item":
		ev.Item = in.get(bytes.TrimSpace(val))
	case "staff":
		ev.Staff = in.get(bytes.TrimSpace(val))
	case "rating":
		return false
	default:
		if personalKey(string(key)) {
			return false // personal data: the slow path rejects the event
		}
		// encoding/json matches keys without regard to case: leave such
		// keys to it.
		for _, name := range wireKeys {
			if bytes.EqualFold(key, []byte(name)) {
				return false
			}
		}
	}
	return true
}

var wireKeys = [...]string{"event_id", "type", "ts", "hall", "window", "case_id", "ticket", "item", "staff", "rating"}

func trimmed(b []byte) string { return string(bytes.TrimSpace(b)) }

// interner gives one string per distinct value of the fields that take few
// values (type, hall, window, item, staff) within one batch or record: a
// thousand events name a few halls and items, and a string of their own
// for each was most of the decoders' allocations.
type interner map[string]string

func (in interner) get(b []byte) string {
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	in[s] = s
	return s
}

// fastString reads a string without escapes or control characters at p
// and returns its bytes (a slice of b) and the position after it.
func fastString(b []byte, p int) ([]byte, int, bool) {
	if p >= len(b) || b[p] != '"' {
		return nil, p, false
	}
	i := bytes.IndexByte(b[p+1:], '"')
	if i < 0 {
		return nil, p, false
	}
	s := b[p+1 : p+1+i]
	ascii := true
	for _, c := range s {
		if c == '\\' || c < 0x20 {
			return nil, p, false
		}
		ascii = ascii && c < 0x80
	}
	// encoding/json replaces invalid UTF-8 with U+FFFD: leave that to it.
	if !ascii && !utf8.Valid(s) {
		return nil, p, false
	}
	return s, p + 2 + i, true
}

func skipSpace(b []byte, p int) int {
	for p < len(b) && (b[p] == ' ' || b[p] == '\n' || b[p] == '\r' || b[p] == '\t') {
		p++
	}
	return p
}
