package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// ErrEmptyBatch is returned for a body that holds no events at all.
var ErrEmptyBatch = errors.New("the body holds no events: send a JSON array or NDJSON, one event per line")

// Item is one entry of a decoded batch: the event, or why it could not be
// read. Index is the event's position in the batch (0-based).
type Item struct {
	Index int
	Event Event
	Err   error
}

// wireEvent mirrors Event with every field loosely typed, so that a wrong
// type in one field is reported by name instead of failing the whole batch.
type wireEvent struct {
	EventID json.RawMessage `json:"event_id"`
	Type    json.RawMessage `json:"type"`
	TS      json.RawMessage `json:"ts"`
	Hall    json.RawMessage `json:"hall"`
	Window  json.RawMessage `json:"window"`
	CaseID  json.RawMessage `json:"case_id"`
	Ticket  json.RawMessage `json:"ticket"`
	Item    json.RawMessage `json:"item"`
	Staff   json.RawMessage `json:"staff"`
	Rating  json.RawMessage `json:"rating"`
}

// DecodeBatch reads a JSON array of events or NDJSON (one event per line).
// A body that is not JSON at all is an error for the whole batch; an event
// that is malformed on its own gets its own error and the others are kept.
func DecodeBatch(body []byte) ([]Item, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, ErrEmptyBatch
	}
	if items, ok := fastDecode(trimmed); ok {
		return items, nil
	}
	return slowDecode(trimmed)
}

// slowDecode is DecodeBatch with encoding/json: any shape, precise errors.
func slowDecode(trimmed []byte) ([]Item, error) {
	var raws []json.RawMessage
	if trimmed[0] == '[' {
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			return nil, fmt.Errorf("the body is not a valid JSON array: %w", err)
		}
	} else {
		sc := bufio.NewScanner(bytes.NewReader(trimmed))
		sc.Buffer(make([]byte, 64*1024), len(trimmed)+1)
		line := 0
		for sc.Scan() {
			line++
			l := bytes.TrimSpace(sc.Bytes())
			if len(l) == 0 {
				continue
			}
			if !json.Valid(l) {
				return nil, fmt.Errorf("line %d is not valid JSON (send a JSON array or NDJSON, one event per line)", line)
			}
			raws = append(raws, append(json.RawMessage(nil), l...))
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read NDJSON: %w", err)
		}
	}
	if len(raws) == 0 {
		return nil, ErrEmptyBatch
	}
	items := make([]Item, len(raws))
	for i, raw := range raws {
		ev, err := decodeOne(raw)
		items[i] = Item{Index: i, Event: ev, Err: err}
	}
	return items, nil
}

func decodeOne(raw json.RawMessage) (Event, error) {
	var w wireEvent
	if err := json.Unmarshal(raw, &w); err != nil {
		return Event{}, errors.New("not a JSON object")
	}
	var ev Event
	var errs []error
	str := func(name string, r json.RawMessage, dst *string) {
		if len(r) == 0 || string(r) == "null" {
			return
		}
		if err := json.Unmarshal(r, dst); err != nil {
			errs = append(errs, fmt.Errorf("%s: must be a string", name))
		}
		*dst = strings.TrimSpace(*dst)
	}
	var typ, ts string
	str("event_id", w.EventID, &ev.EventID)
	str("type", w.Type, &typ)
	str("ts", w.TS, &ts)
	str("hall", w.Hall, &ev.Hall)
	str("window", w.Window, &ev.Window)
	str("case_id", w.CaseID, &ev.CaseID)
	str("ticket", w.Ticket, &ev.Ticket)
	str("item", w.Item, &ev.Item)
	str("staff", w.Staff, &ev.Staff)
	ev.Type = EventType(typ)
	errs = append(errs, personalData(raw)...)
	if len(w.Rating) > 0 && string(w.Rating) != "null" {
		if err := json.Unmarshal(w.Rating, &ev.Rating); err != nil {
			errs = append(errs, errors.New("rating: must be a whole number from 1 to 5"))
		}
	}
	if ts != "" {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			errs = append(errs, fmt.Errorf("ts: %q is not an RFC 3339 time (like 2026-11-25T09:30:00.123+08:00)", ts))
		} else if t.IsZero() {
			errs = append(errs, fmt.Errorf("ts: %s (year 1) is not an event time", ts))
		} else {
			ev.TS = t.UTC()
		}
	}
	return ev, joinErrors(errs)
}

// personalData finds the fields of an event that carry an applicant's
// personal data (see privacy.go), each with an error naming it.
func personalData(raw json.RawMessage) []error {
	var all map[string]json.RawMessage
	if json.Unmarshal(raw, &all) != nil {
		return nil
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		if personalKey(k) {
			errs = append(errs, fmt.Errorf("%s: applicants' personal data is not accepted (Sunlight keeps ticket and case numbers and staff ids, no names, ID or phone numbers): leave the field out", k))
			continue
		}
		var v string
		if json.Unmarshal(all[k], &v) == nil && looksLikeResidentID(strings.TrimSpace(v)) {
			errs = append(errs, fmt.Errorf("%s: looks like a resident ID number, which Sunlight does not accept (personal data of an applicant)", k))
		}
	}
	return errs
}
