package ingest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"
)

// The spool keeps accepted events in a compact binary form: decoding JSON
// again in the writer would cost as much as the intake itself. A record is
// a version byte then, per event, its fields in Event order: strings as
// uvarint length + bytes, the time as varint Unix nanoseconds, the rating as
// a uvarint.

const codecVersion = 1

var errCodec = errors.New("ingest: corrupt event record")

// AppendRecord appends evs as one record to buf and returns it.
func AppendRecord(buf []byte, evs []Event) []byte {
	buf = append(buf, codecVersion)
	buf = binary.AppendUvarint(buf, uint64(len(evs)))
	for i := range evs {
		ev := &evs[i]
		for _, s := range [...]string{ev.EventID, string(ev.Type), ev.Hall, ev.Window, ev.CaseID, ev.Ticket, ev.Item, ev.Staff} {
			buf = binary.AppendUvarint(buf, uint64(len(s)))
			buf = append(buf, s...)
		}
		buf = binary.AppendVarint(buf, ev.TS.UnixNano())
		buf = binary.AppendUvarint(buf, uint64(ev.Rating))
	}
	return buf
}

// RecordEvents returns how many events a record made by AppendRecord holds
// (0 for one that is not such a record), so that a reader of many records
// can size its slice once.
func RecordEvents(rec []byte) int {
	n, _, err := recordHeader(rec)
	if err != nil {
		return 0
	}
	return n
}

// recordHeader checks a record's version and event count and returns the
// count and the bytes of the events.
func recordHeader(rec []byte) (n int, events []byte, err error) {
	if len(rec) == 0 || rec[0] != codecVersion {
		return 0, nil, fmt.Errorf("%w: unknown version", errCodec)
	}
	p := rec[1:]
	c, k := binary.Uvarint(p)
	// An event takes at least 10 bytes (8 lengths, a time, a rating), so a
	// count the record cannot hold is refused before anything is allocated.
	if k <= 0 || c > uint64(len(p)-k)/10 {
		return 0, nil, fmt.Errorf("%w: bad count", errCodec)
	}
	return int(c), p[k:], nil
}

// DecodeRecord appends the events of a record made by AppendRecord to evs.
// Times come back in UTC.
func DecodeRecord(rec []byte, evs []Event) ([]Event, error) {
	n, p, err := recordHeader(rec)
	if err != nil {
		return evs, err
	}
	evs = slices.Grow(evs, n)
	in := interner{}
	field := func(shared bool) (string, bool) {
		l, k := binary.Uvarint(p)
		if k <= 0 || l > uint64(len(p)-k) {
			return "", false
		}
		b := p[k : k+int(l)]
		p = p[k+int(l):]
		if shared {
			return in.get(b), true
		}
		return string(b), true
	}
	for i := range n {
		var ev Event
		var typ string
		ok := true
		for j, f := range [...]*string{&ev.EventID, &typ, &ev.Hall, &ev.Window, &ev.CaseID, &ev.Ticket, &ev.Item, &ev.Staff} {
			// event_id, case_id and ticket are (nearly) unique; the others
			// take few values.
			if *f, ok = field(j != 0 && j != 4 && j != 5); !ok {
				return evs, fmt.Errorf("%w: event %d", errCodec, i)
			}
		}
		ev.Type = EventType(typ)
		ns, k := binary.Varint(p)
		if k <= 0 {
			return evs, fmt.Errorf("%w: event %d time", errCodec, i)
		}
		p = p[k:]
		r, k := binary.Uvarint(p)
		if k <= 0 {
			return evs, fmt.Errorf("%w: event %d rating", errCodec, i)
		}
		p = p[k:]
		ev.TS = time.Unix(0, ns).UTC()
		ev.Rating = int(r)
		evs = append(evs, ev)
	}
	if len(p) != 0 {
		return evs, fmt.Errorf("%w: %d trailing bytes", errCodec, len(p))
	}
	return evs, nil
}
