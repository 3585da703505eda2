package analytics_test

import (
	"testing"

	"github.com/sunlight-gov/sunlight/analytics"
)

// BenchmarkAuditAppend: the cost of one audited row, alone and with
// concurrent writers (whose rows share inserts: the group commit).
func BenchmarkAuditAppend(b *testing.B) {
	for _, par := range []int{1, 16} {
		name := "serial"
		if par > 1 {
			name = "parallel16"
		}
		b.Run(name, func(b *testing.B) {
			s := chainStore(b, "", nil)
			e := analytics.AuditEntry{Actor: "bench", Role: "auditor", Action: "login_failed", Client: "127.0.0.1"}
			b.ResetTimer()
			if par == 1 {
				for b.Loop() {
					if err := s.WriteAudit(b.Context(), e); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.SetParallelism(par) // × GOMAXPROCS goroutines
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := s.WriteAudit(b.Context(), e); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
