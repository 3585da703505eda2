package analytics

import (
	"testing"
	"time"
)

func TestKPICacheKeepsOnlyQuietReads(t *testing.T) {
	var c kpiCache
	day := func(d int) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC) }
	rows := []kindRow{{key: "x"}}

	// A read that overlapped an insert (its start, its end, or all of it)
	// is not kept.
	_, _, w := c.get("a")
	c.writing(day(20).Unix(), day(20).Unix()) // an insert starts, far from a's range
	c.put("a", day(1), day(2), rows, w)
	if _, ok, _ := c.get("a"); ok {
		t.Fatal("a read begun before an insert started was kept")
	}
	_, _, w = c.get("a")
	c.put("a", day(1), day(2), rows, w)
	if _, ok, _ := c.get("a"); ok {
		t.Fatal("a read begun while an insert ran was kept")
	}
	c.writing(day(20).Unix(), day(20).Unix()) // it ends
	_, _, w = c.get("a")
	c.put("a", day(1), day(2), rows, w)
	if _, ok, _ := c.get("a"); !ok {
		t.Fatal("a quiet read was not kept")
	}

	// An insert drops what overlaps it, [from, to) against [first, last].
	_, _, w = c.get("b")
	c.put("b", day(2), day(3), rows, w)
	c.writing(day(3).Unix(), day(4).Unix())
	c.writing(day(3).Unix(), day(4).Unix())
	if _, ok, _ := c.get("a"); !ok {
		t.Fatal("an insert after a's range dropped it")
	}
	if _, ok, _ := c.get("b"); !ok {
		t.Fatal("an insert starting at b's end dropped it")
	}
	c.writing(day(1).Unix()+5, day(1).Unix()+5)
	c.writing(day(1).Unix()+5, day(1).Unix()+5)
	if _, ok, _ := c.get("a"); ok {
		t.Fatal("an insert inside a's range left it")
	}
	if _, ok, _ := c.get("b"); !ok {
		t.Fatal("an insert before b's range dropped it")
	}

	// Rows expire.
	now := time.Now()
	c.now = func() time.Time { return now }
	_, _, w = c.get("c")
	c.put("c", day(7), day(8), rows, w)
	now = now.Add(kpiCacheTTL - time.Second)
	if _, ok, _ := c.get("c"); !ok {
		t.Fatal("rows expired early")
	}
	now = now.Add(time.Second)
	if _, ok, _ := c.get("c"); ok || c.has("c") {
		t.Fatal("rows did not expire")
	}

	// Bounded: the oldest go first.
	for i := range kpiCacheEntries + 10 {
		_, _, w = c.get("")
		c.put(string(rune('A'+i%26))+time.Duration(i).String(), day(5), day(6), rows, w)
	}
	if len(c.entries) != kpiCacheEntries || len(c.order) != kpiCacheEntries {
		t.Fatalf("%d entries (%d in order), want %d", len(c.entries), len(c.order), kpiCacheEntries)
	}
	if _, ok, _ := c.get("b"); ok {
		t.Fatal("the oldest entry was not dropped")
	}
}
