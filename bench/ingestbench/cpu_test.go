package ingestbench

import (
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name, line string
		cpu        time.Duration
		comm       string
		ppid       int
		bad        bool
	}{
		{"plain", "4881 (sunlight) S 4800 4881 10 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 12 0", 2800 * time.Millisecond, "sunlight", 4800, false},
		{"spaces and parens in the name", "77 (clickhouse (x) y) R 4881 77 1 0 -1 0 0 0 0 0 7 3 0 0", 100 * time.Millisecond, "clickhouse (x) y", 4881, false},
		{"short", "77 (x) R 1 2", 0, "x", 1, true},
		{"no name", "garbage", 0, "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cpu, err := parseProcStat(tt.line)
			if (err != nil) != tt.bad {
				t.Fatalf("parseProcStat: err %v, want error %v", err, tt.bad)
			}
			if cpu != tt.cpu {
				t.Errorf("cpu %s, want %s", cpu, tt.cpu)
			}
			comm, ppid, ok := parseCommPPID(tt.line)
			if tt.comm != "" && (!ok || comm != tt.comm || ppid != tt.ppid) {
				t.Errorf("parseCommPPID = %q, %d, %v; want %q, %d", comm, ppid, ok, tt.comm, tt.ppid)
			}
		})
	}
}

func TestQuantile(t *testing.T) {
	ms := func(xs ...int) []time.Duration {
		d := make([]time.Duration, len(xs))
		for i, x := range xs {
			d[i] = time.Duration(x) * time.Millisecond
		}
		return d
	}
	d := ms(5, 1, 4, 2, 3, 10, 9, 8, 7, 6)
	for _, tt := range []struct {
		q    float64
		want float64
	}{{0.5, 5}, {0.99, 10}, {1, 10}, {0, 1}, {0.1, 1}, {0.11, 2}} {
		if got := quantile(d, tt.q); got != tt.want {
			t.Errorf("quantile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("quantile of nothing is not 0")
	}
}

func TestCommonPrefix(t *testing.T) {
	for _, tt := range [][3]string{{"sim-ab-HA-1", "sim-ab-HB-2", "sim-ab-H"}, {"x", "y", ""}, {"abc", "ab", "ab"}} {
		if got := commonPrefix(tt[0], tt[1]); got != tt[2] {
			t.Errorf("commonPrefix(%q, %q) = %q, want %q", tt[0], tt[1], got, tt[2])
		}
	}
}
