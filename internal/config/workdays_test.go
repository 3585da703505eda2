package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWorkCalendarAcrossHolidayAndAdjustedSaturday(t *testing.T) {
	cfg := &Config{Timezone: "Asia/Shanghai", Calendar: Calendar{
		// National Day week off, with Saturday 2026-10-10 worked instead.
		Holidays: []string{"2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07"},
		Workdays: []string{"2026-10-10"},
	}}
	w := cfg.WorkCalendar()
	sh := cfg.Location()
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, sh)
		require.NoError(t, err)
		return tm
	}
	require.False(t, w.IsWorkday(at("2026-10-01 10:00")), "holiday")
	require.True(t, w.IsWorkday(at("2026-10-10 10:00")), "adjusted working Saturday")
	require.False(t, w.IsWorkday(at("2026-10-11 10:00")), "plain Sunday")
	require.True(t, w.IsWorkday(at("2026-10-08 10:00")))
	// 23:30 UTC on 2026-09-30 is already 10-01 in Shanghai: a holiday.
	require.False(t, w.IsWorkday(time.Date(2026, 9, 30, 16, 30, 0, 0, time.UTC)))

	tests := []struct {
		accepted string
		days     int
		due      string // the last working day
	}{
		{"2026-09-30 16:00", 1, "2026-10-08"}, // Thu..Wed off (1,2 holidays, 3-4 weekend, 5-7 holidays)
		{"2026-09-30 16:00", 3, "2026-10-10"}, // 8, 9, then the adjusted Saturday
		{"2026-09-30 16:00", 4, "2026-10-12"}, // Sunday 11 is off
		{"2026-11-20 09:00", 3, "2026-11-25"}, // a Friday: Mon, Tue, Wed
		{"2026-11-25 09:00", 0, "2026-11-25"},
	}
	for _, tt := range tests {
		d := w.Deadline(at(tt.accepted), tt.days)
		want, _ := time.ParseInLocation(time.DateOnly, tt.due, sh)
		require.Equal(t, want.AddDate(0, 0, 1), d, "%s + %d working days", tt.accepted, tt.days)
	}
	require.Equal(t, 3, w.WorkdaysBetween(at("2026-09-30 16:00"), at("2026-10-10 09:00")))
	require.Equal(t, 0, w.WorkdaysBetween(at("2026-10-10 09:00"), at("2026-10-09 09:00")))
}
