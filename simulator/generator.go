package simulator

import (
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/sunlight-gov/sunlight/internal/config"
)

// generator is a Timeline prepared for simulation: the calendar, the time
// zone and a plan per hall.
type generator struct {
	loc        *time.Location
	cal        calendar
	alwaysOpen bool
	alwaysFrom time.Time // see Timeline.AlwaysOpenFrom
	seed       uint64
	realTag    string // event-id tags of a real and an always-open day
	alwaysTag  string
	seamTag    string // of the day alwaysFrom falls on
	halls      []*hallPlan
	maxLimit   int
}

type hallPlan struct {
	id      string
	code    string // prefix of case ids and event ids, unique among halls
	windows []winPlan
	items   []itemPlan
	cum     []float64 // cumulative item choice weights, ending at 1
	daily   float64   // expected tickets on a normal day
}

type winPlan struct {
	id      string
	staff   string
	handles []bool // by hall item index
	pauses  bool   // takes a lunch break (every window of a department but its first)
}

type itemPlan struct {
	code   string
	limit  int     // working days
	median float64 // handling, seconds
	letter string  // ticket prefix of the item's department
}

func (t *Timeline) generator() *generator {
	c := t.Config
	g := &generator{loc: c.Location(), cal: newCalendar(c), alwaysOpen: t.AlwaysOpen, alwaysFrom: t.AlwaysOpenFrom, seed: uint64(t.Seed)}
	// A day's events carry the tag of the mode it was simulated in (the
	// day the hall went over to always-open hours also its time), so that
	// two timelines share an event id only where they share the day.
	tag := func(parts ...string) string {
		return strconv.FormatUint(hash64(append([]string{strconv.FormatInt(t.Seed, 10)}, parts...)...)&0xffffffff, 16)
	}
	g.realTag, g.alwaysTag = tag("real"), tag("always")
	g.seamTag = tag("always", strconv.FormatInt(t.AlwaysOpenFrom.Unix(), 10))
	codes := hallCodes(c.Halls)
	staffNo := 1001
	for i := range c.Halls {
		h := &c.Halls[i]
		hp := &hallPlan{id: h.ID, code: codes[i]}
		itemIdx := map[string]int{}
		deptLetter := map[string]string{}
		letterOf := func(dept string) string {
			if l, ok := deptLetter[dept]; ok {
				return l
			}
			n := len(deptLetter)
			l := string(rune('A' + n%26))
			if n >= 26 {
				l += strconv.Itoa(n / 26)
			}
			deptLetter[dept] = l
			return l
		}
		firstOfDept := map[string]bool{}
		for _, w := range h.Windows {
			wp := winPlan{id: w.ID, staff: "E" + strconv.Itoa(staffNo)}
			staffNo++
			if firstOfDept[w.Department] {
				wp.pauses = true
			}
			firstOfDept[w.Department] = true
			for _, code := range w.Items {
				if _, ok := itemIdx[code]; ok {
					continue
				}
				it, ok := c.FindItem(code)
				if !ok {
					continue
				}
				dept := it.Department
				if dept == "" {
					dept = w.Department
				}
				limit := max(it.TimeLimitDays, 1)
				g.maxLimit = max(g.maxLimit, limit)
				itemIdx[code] = len(hp.items)
				hp.items = append(hp.items, itemPlan{code: code, limit: limit, median: itemMedian(code, limit), letter: letterOf(dept)})
			}
			hp.windows = append(hp.windows, wp)
		}
		// Plan each window's load from its tier and its capacity, and
		// spread it over the items it handles.
		demand := make([]float64, len(hp.items))
		for wi, w := range h.Windows {
			wp := &hp.windows[wi]
			wp.handles = make([]bool, len(hp.items))
			var idx []int
			for _, code := range w.Items {
				if j, ok := itemIdx[code]; ok && !wp.handles[j] {
					wp.handles[j] = true
					idx = append(idx, j)
				}
			}
			if len(idx) == 0 {
				continue
			}
			mean := 0.0
			for _, j := range idx {
				mean += hp.items[j].median * math.Exp(handlingSigma*handlingSigma/2) / 60
			}
			mean = mean/float64(len(idx)) + visitOverhead
			open := (closeAt - openAt).Minutes()
			if wp.pauses {
				open -= (lunchEnd - lunchStart).Minutes()
			}
			per, ok := tierPerWindow[h.Tier]
			if !ok {
				per = 40
			}
			load := math.Min(per, targetUtil*open/mean)
			for _, j := range idx {
				demand[j] += load / float64(len(idx))
			}
		}
		sum := 0.0
		for _, v := range demand {
			sum += v
		}
		hp.daily = sum
		hp.cum = make([]float64, len(demand))
		acc := 0.0
		for j, v := range demand {
			acc += v
			hp.cum[j] = acc / sum
		}
		g.halls = append(g.halls, hp)
	}
	return g
}

// openAllDay tells whether day d is simulated open around the clock.
func (g *generator) openAllDay(d day) bool {
	return g.alwaysOpen && (g.alwaysFrom.IsZero() || !d.before(g.dayOf(g.alwaysFrom)))
}

// dayMode gives the tag of day d's event ids and the day's time zero,
// from which its simulation counts: midnight, but for a hall that went
// over to always-open hours at AlwaysOpenFrom, whose days from then on
// run from that time of day to the same time the next day. The hall is
// then closed only for the quarter of an hour before that time each day,
// a day after its start, not at every midnight: a demo started at 23:50
// finds its hall open.
func (g *generator) dayMode(d day) (tag string, zero time.Time) {
	switch {
	case !g.openAllDay(d):
		return g.realTag, d.start(g.loc)
	case g.alwaysFrom.IsZero():
		return g.alwaysTag, d.start(g.loc)
	}
	seam := g.dayOf(g.alwaysFrom)
	zero = d.start(g.loc).Add(g.alwaysFrom.Sub(seam.start(g.loc)))
	if d == seam {
		return g.seamTag, zero
	}
	return g.alwaysTag + "o" + strconv.FormatInt(g.alwaysFrom.Sub(seam.start(g.loc)).Milliseconds()/1000, 36), zero
}

// itemMedian is an item's median handling time in seconds: 4–15 minutes,
// longer for items with a longer time limit, fixed per item code.
func itemMedian(code string, limit int) float64 {
	jitter := float64(hash64("median", code)%1000) / 1000
	m := 4 + 0.4*float64(min(limit, 15)) + 2*jitter
	return math.Min(math.Max(m, 4), 15) * 60
}

// hallCodes derives a short unique code per hall from its id: the initials
// of its parts ("city-main" -> "CM"), or its first letters when it has one
// part; a code shared by several halls gets their position appended.
func hallCodes(halls []config.Hall) []string {
	codes := make([]string, len(halls))
	count := map[string]int{}
	for i, h := range halls {
		parts := strings.FieldsFunc(h.ID, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		var b strings.Builder
		if len(parts) > 1 {
			for _, p := range parts {
				b.WriteRune(unicode.ToUpper([]rune(p)[0]))
			}
		} else if len(parts) == 1 {
			r := []rune(strings.ToUpper(parts[0]))
			b.WriteString(string(r[:min(3, len(r))]))
		}
		codes[i] = b.String()
		if codes[i] == "" {
			codes[i] = "H"
		}
		count[codes[i]]++
	}
	for i := range codes {
		if count[codes[i]] > 1 {
			codes[i] += strconv.Itoa(i + 1)
		}
	}
	return codes
}

func hash64(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

func (g *generator) dayOf(t time.Time) day {
	t = t.In(g.loc)
	return day{t.Year(), t.Month(), t.Day()}
}
