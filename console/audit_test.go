package console

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAuditFields(t *testing.T) {
	tests := []struct {
		name, action, detail string
		want                 []auditField
	}{
		{"clip", "clip", `window="" interval=0 bytes=1 size=2048 sha256=ab12 reason="投诉 \"12\" 核查" range=bytes=0-0`, []auditField{
			{"window", ""}, {"interval", "0"}, {"bytes", "1"}, {"size", "2048"}, {"sha256", "ab12"},
			{"reason", `投诉 "12" 核查`}, {"range", "bytes=0-0"}}},
		{"recordings", "recordings_list", `intervals=2 reason="review"`, []auditField{{"intervals", "2"}, {"reason", "review"}}},
		{"live start", "live_start", "session 9f3a", []auditField{{"session", "9f3a"}}},
		{"live end", "live_end", "session 9f3a: peer closed after 1m2s", []auditField{
			{"session", "9f3a"}, {"end", "peer closed"}, {"duration_s", "62"}}},
		{"not pairs", "clip", "opened by hand", nil},
		{"bad quoting", "recordings_list", `reason="unterminated`, nil},
		{"typed text stays text", "hold_place", "reason=complaint", nil},
		{"empty", "clip", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, auditFields(tt.action, tt.detail))
		})
	}
}
