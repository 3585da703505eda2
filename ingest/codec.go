package ingest

import (
	"encoding/binary"
	"errors"
	"fmt"
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

// DecodeRecord appends the events of a record made by AppendRecord to evs.
// Times come back in UTC.
func DecodeRecord(rec []byte, evs []Event) ([]Event, error) {
	if len(rec) == 0 || rec[0] != codecVersion {
		return evs, fmt.Errorf("%w: unknown version", errCodec)
	}
	p := rec[1:]
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)) {
		return evs, fmt.Errorf("%w: bad count", errCodec)
	}
	p = p[k:]
	str := func() (string, bool) {
		l, k := binary.Uvarint(p)
		if k <= 0 || l > uint64(len(p)-k) {
			return "", false
		}
		s := string(p[k : k+int(l)])
		p = p[k+int(l):]
		return s, true
	}
	for i := uint64(0); i < n; i++ {
		var ev Event
		var typ string
		ok := true
		for _, f := range [...]*string{&ev.EventID, &typ, &ev.Hall, &ev.Window, &ev.CaseID, &ev.Ticket, &ev.Item, &ev.Staff} {
			if *f, ok = str(); !ok {
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
