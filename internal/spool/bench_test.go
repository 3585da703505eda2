package spool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchBatch is one intake request: 100 events of ~200 bytes.
func benchBatch() [][]byte {
	batch := make([][]byte, 100)
	for i := range batch {
		batch[i] = []byte(fmt.Sprintf(`{"event_id":"bench-%03d","type":"called","ts":"2026-11-25T09:30:00.123+08:00","hall":"city-main","window":"A07","case_id":"HH-2026-000123","ticket":"A031","item":"BL-0012","staff":"E1021","p":"%s"}`, i, strings.Repeat("x", 8)))
	}
	return batch
}

// startConsumer drains and commits like the ClickHouse writer would, so the
// spool stays small and the benchmark pays for the reads too.
func startConsumer(s *Spool) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			b, err := s.Next(ctx, 10000, 0)
			if err != nil {
				return
			}
			if err := s.Commit(b); err != nil && !errors.Is(err, ErrClosed) {
				panic(err)
			}
		}
	}()
	return func() { cancel(); <-done }
}

// BenchmarkAppend: one op is one Append of 100 records × ~200 bytes, from
// 1, 8 or 64 concurrent appenders; fsyncs/append shows the group commit.
func BenchmarkAppend(b *testing.B) {
	batch := benchBatch()
	size := 0
	for _, r := range batch {
		size += len(r)
	}
	for _, appenders := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("appenders=%d", appenders), func(b *testing.B) {
			s, err := Open(Config{Dir: b.TempDir(), MaxBytes: 8 << 30})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			stop := startConsumer(s)
			defer stop()
			b.SetBytes(int64(size))
			ctx := context.Background()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range appenders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if err := s.Append(ctx, batch); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			st := s.Stats()
			b.ReportMetric(float64(b.N*len(batch))/elapsed.Seconds(), "records/s")
			b.ReportMetric(float64(st.Fsyncs)/float64(st.Appends), "fsyncs/append")
		})
	}
}

// BenchmarkAppendLatency offers a fixed load of 100 Appends/s of 100
// records (10,000 events/s), open loop: each Append starts on its schedule
// whatever the previous ones do, and its latency counts from that moment.
func BenchmarkAppendLatency(b *testing.B) {
	batch := benchBatch()
	s, err := Open(Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	stop := startConsumer(s)
	defer stop()
	const interval = 10 * time.Millisecond
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		at := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(at))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Append(ctx, batch); err != nil {
				b.Error(err)
			}
			lat[i] = time.Since(at)
		}()
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(lat)
	ms := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
	b.ReportMetric(ms(1), "max-ms")
}

// BenchmarkNextCommit: one op is one record read and committed in batches
// of up to 10,000 (what the ClickHouse writer does).
func BenchmarkNextCommit(b *testing.B) {
	batch := benchBatch()
	s, err := Open(Config{Dir: b.TempDir(), MaxBytes: 8 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for n := 0; n < b.N; n += len(batch) {
		if err := s.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	for read := 0; read < b.N; {
		bt, err := s.Next(ctx, 10000, 0)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Commit(bt); err != nil {
			b.Fatal(err)
		}
		read += len(bt.Records)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}
