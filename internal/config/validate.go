package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// idPattern keeps ids safe to use in URLs, file names and RTSP paths.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// Validate checks the whole configuration and reports every problem found,
// each naming the key at fault.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}

	checkHostPort := func(key, v string, required bool) {
		if v == "" {
			if required {
				bad(key, "is required")
			}
			return
		}
		if _, port, err := net.SplitHostPort(v); err != nil {
			bad(key, "%q is not host:port", v)
		} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			bad(key, "%q has an invalid port", v)
		}
	}
	for i, p := range c.TrustedProxies {
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				bad(fmt.Sprintf("trusted_proxies[%d]", i), "%q is neither an IP address nor a CIDR", p)
			}
		}
	}
	checkPort := func(key string, p int) {
		if p < 1 || p > 65535 {
			bad(key, "port %d is out of range 1-65535", p)
		}
	}
	checkHostPort("listen", c.Listen, true)
	checkHostPort("metrics_listen", c.MetricsListen, false)
	switch {
	case c.TLS.CertFile != "" && c.TLS.KeyFile == "":
		bad("tls.key_file", "is required with tls.cert_file")
	case c.TLS.CertFile == "" && c.TLS.KeyFile != "":
		bad("tls.cert_file", "is required with tls.key_file")
	}
	checkHostPort("tls.redirect_listen", c.TLS.RedirectListen, false)
	if c.TLS.RedirectListen != "" && !c.TLS.Enabled() {
		bad("tls.redirect_listen", "redirects to HTTPS: set tls.cert_file and tls.key_file too")
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		bad("timezone", "unknown time zone %q", c.Timezone)
	}
	for i, a := range c.ClickHouse.Addr {
		checkHostPort(fmt.Sprintf("clickhouse.addr[%d]", i), a, true)
	}
	if !idPattern.MatchString(c.ClickHouse.Database) {
		bad("clickhouse.database", "%q is not a valid database name", c.ClickHouse.Database)
	}
	if c.ClickHouse.Cluster != "" {
		switch {
		case !idPattern.MatchString(c.ClickHouse.Cluster):
			bad("clickhouse.cluster", "%q is not a valid cluster name", c.ClickHouse.Cluster)
		case len(c.ClickHouse.Addr) == 0:
			bad("clickhouse.cluster", "a cluster needs clickhouse.addr (the managed server is one server)")
		}
	}
	checkPort("clickhouse.managed.tcp_port", c.ClickHouse.Managed.TCPPort)
	checkPort("clickhouse.managed.http_port", c.ClickHouse.Managed.HTTPPort)
	if n := c.ClickHouse.Managed.Nice; n != nil && (*n < 0 || *n > 19) {
		bad("clickhouse.managed.nice", "%d is not a niceness from 0 (Sunlight's priority) to 19", *n)
	}
	checkPort("webrtc.udp_port", c.WebRTC.UDPPort)
	for i, ip := range c.WebRTC.PublicIPs {
		if net.ParseIP(ip) == nil {
			bad(fmt.Sprintf("webrtc.public_ips[%d]", i), "%q is not an IP address", ip)
		}
	}
	for i, name := range c.WebRTC.Interfaces {
		if _, err := net.InterfaceByName(name); err != nil {
			bad(fmt.Sprintf("webrtc.interfaces[%d]", i), "no network interface %q on this machine", name)
		}
	}
	for i, s := range c.WebRTC.ICEServers {
		key := fmt.Sprintf("webrtc.ice_servers[%d].urls", i)
		if len(s.URLs) == 0 {
			bad(key, "at least one stun: or turn: URL is required")
		}
		for _, u := range s.URLs {
			if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
				bad(key, "%q is not a stun:, turn: or turns: URL", u)
			}
		}
	}
	if c.WebRTC.MaxViewersPerWindow < 1 {
		bad("webrtc.max_viewers_per_window", "must be at least 1")
	}
	if c.Audit.CheckpointSeconds < 1 || c.Audit.CheckpointSeconds > 86400 {
		bad("audit.checkpoint_seconds", "%d is out of range 1-86400", c.Audit.CheckpointSeconds)
	}
	if c.WebRTC.MaxSessionsPerUser < 1 {
		bad("webrtc.max_sessions_per_user", "must be at least 1")
	}
	if c.Recording.SegmentSeconds < 1 || c.Recording.SegmentSeconds > 3600 {
		bad("recording.segment_seconds", "%d is out of range 1-3600", c.Recording.SegmentSeconds)
	}
	if c.Recording.RetentionDays < 1 {
		bad("recording.retention_days", "must be at least 1")
	}
	if c.Recording.ClipPaddingSeconds < 0 || c.Recording.ClipPaddingSeconds > 600 {
		bad("recording.clip_padding_seconds", "%d is out of range 0-600", c.Recording.ClipPaddingSeconds)
	}
	if c.Intake.SpoolMaxMB < 1 || c.Intake.SpoolMaxMB > 1<<20 {
		bad("intake.spool_max_mb", "%d is out of range 1-1048576", c.Intake.SpoolMaxMB)
	}
	if c.Intake.MaxBodyKB < 1 || c.Intake.MaxBodyKB > 1<<20 {
		bad("intake.max_body_kb", "%d is out of range 1-1048576", c.Intake.MaxBodyKB)
	}
	if c.Intake.BatchEvents < 1 || c.Intake.BatchEvents > 1_000_000 {
		bad("intake.batch_events", "%d is out of range 1-1000000", c.Intake.BatchEvents)
	}
	if c.Intake.MaxEventAgeDays < 1 || c.Intake.MaxEventAgeDays > 36500 {
		bad("intake.max_event_age_days", "%d is out of range 1-36500", c.Intake.MaxEventAgeDays)
	}
	if c.Intake.MaxEventAheadMinutes < 1 || c.Intake.MaxEventAheadMinutes > 1440 {
		bad("intake.max_event_ahead_minutes", "%d is out of range 1-1440", c.Intake.MaxEventAheadMinutes)
	}
	sv := c.Supervision
	if sv.CaseWarnShare <= 0 || sv.CaseWarnShare >= 1 {
		bad("supervision.case_warn_share", "%g is not between 0 and 1", sv.CaseWarnShare)
	}
	if sv.CaseWarnWorkdays < 0 || sv.CaseWarnWorkdays > 60 {
		bad("supervision.case_warn_workdays", "%d is out of range 0-60", sv.CaseWarnWorkdays)
	}
	if sv.MaxHandlingMinutes < 1 || sv.MaxHandlingMinutes > 24*60 {
		bad("supervision.max_handling_minutes", "%d is out of range 1-1440", sv.MaxHandlingMinutes)
	}
	if sv.UnattendedMinutes < 1 || sv.UnattendedMinutes > 24*60 {
		bad("supervision.unattended_minutes", "%d is out of range 1-1440", sv.UnattendedMinutes)
	}
	if sv.BadRatingAtMost < 1 || sv.BadRatingAtMost > 4 {
		bad("supervision.bad_rating_at_most", "%d is out of range 1-4", sv.BadRatingAtMost)
	}
	if sv.CameraOfflineSeconds < 1 || sv.CameraOfflineSeconds > 86400 {
		bad("supervision.camera_offline_seconds", "%d is out of range 1-86400", sv.CameraOfflineSeconds)
	}
	if c.Recording.MinFreePercent < 1 || c.Recording.MinFreePercent > 90 {
		bad("recording.min_free_percent", "%d is out of range 1-90", c.Recording.MinFreePercent)
	}
	if c.Auth.SessionTTL < time.Minute {
		bad("auth.session_ttl", "%s is shorter than a minute", c.Auth.SessionTTL)
	}
	seenKey := map[string]int{}
	for i, k := range c.Auth.APIKeys {
		key := fmt.Sprintf("auth.api_keys[%d]", i)
		if k.Name == "" {
			bad(key+".name", "is required")
		}
		if b, err := hex.DecodeString(k.KeySHA256); err != nil || len(b) != 32 {
			bad(key+".key_sha256", "must be 64 hex digits (the SHA-256 of the key, e.g. `printf %%s KEY | sha256sum`)")
		}
		if j, dup := seenKey[k.Name]; dup && k.Name != "" {
			bad(key+".name", "duplicate api key name %q (also auth.api_keys[%d])", k.Name, j)
		}
		seenKey[k.Name] = i
	}

	items := map[string]int{}
	for i, it := range c.Items {
		key := fmt.Sprintf("items[%d]", i)
		switch {
		case it.Code == "":
			bad(key+".code", "is required")
		case !idPattern.MatchString(it.Code):
			bad(key+".code", "%q may only hold letters, digits, '-', '_' and '.'", it.Code)
		default:
			if j, dup := items[it.Code]; dup {
				bad(key+".code", "duplicate item code %q (also items[%d])", it.Code, j)
			}
			items[it.Code] = i
		}
		if it.Name == "" {
			bad(key+".name", "is required")
		}
		if it.Department == "" {
			bad(key+".department", "is required")
		}
		if it.TimeLimitDays <= 0 {
			bad(key+".time_limit_days", "item %q needs a time limit of at least 1 working day", it.Code)
		}
		if it.TargetWaitMinutes < 0 {
			bad(key+".target_wait_minutes", "must not be negative")
		}
	}

	halls := map[string]int{}
	for i, h := range c.Halls {
		key := fmt.Sprintf("halls[%d]", i)
		if !idPattern.MatchString(h.ID) {
			bad(key+".id", "%q is not a valid id (letters, digits, '-', '_', '.')", h.ID)
		} else if j, dup := halls[h.ID]; dup {
			bad(key+".id", "duplicate hall id %q (also halls[%d])", h.ID, j)
		} else {
			halls[h.ID] = i
		}
		if h.Name == "" {
			bad(key+".name", "is required")
		}
		switch h.Tier {
		case TierCity, TierDistrict, TierCommunity:
		default:
			bad(key+".tier", "%q is not one of city, district, community", h.Tier)
		}
	}
	for i, h := range c.Halls {
		if h.Parent == "" {
			continue
		}
		if _, ok := halls[h.Parent]; !ok {
			bad(fmt.Sprintf("halls[%d].parent", i), "no hall has id %q", h.Parent)
		} else if h.Parent == h.ID {
			bad(fmt.Sprintf("halls[%d].parent", i), "a hall cannot be its own parent")
		}
	}
	if cyc := c.parentCycle(); cyc != "" {
		bad("halls", "parent cycle: %s", cyc)
	}
	for i, k := range c.Auth.APIKeys {
		if msg := c.CheckScope(k.Scope); msg != "" {
			bad(fmt.Sprintf("auth.api_keys[%d].scope", i), "%s", msg)
		}
	}

	windows := map[string]string{}
	for i, h := range c.Halls {
		for j, w := range h.Windows {
			key := fmt.Sprintf("halls[%d].windows[%d]", i, j)
			if !idPattern.MatchString(w.ID) {
				bad(key+".id", "%q is not a valid window id (letters, digits, '-', '_', '.')", w.ID)
			} else if prev, dup := windows[w.ID]; dup {
				bad(key+".id", "duplicate window id %q (also %s); window ids must be unique across all halls", w.ID, prev)
			} else {
				windows[w.ID] = key
			}
			if w.Department == "" {
				bad(key+".department", "is required")
			}
			for k, code := range w.Items {
				if _, ok := items[code]; !ok {
					bad(fmt.Sprintf("%s.items[%d]", key, k), "unknown item code %q (not in items)", code)
				}
			}
			if err := checkRTSPURL(w.Camera); err != nil {
				bad(key+".camera", "%v", err)
			}
			switch w.Transport {
			case "auto", "udp", "tcp":
			default:
				bad(key+".transport", "%q is not one of auto, udp, tcp", w.Transport)
			}
		}
	}

	named := map[string]bool{} // the departments of the windows and items
	for _, it := range c.Items {
		named[it.Department] = true
	}
	for _, ref := range c.Windows() {
		named[ref.Window.Department] = true
	}
	depts := map[string]int{}
	for i, d := range c.Departments {
		key := fmt.Sprintf("departments[%d]", i)
		switch j, dup := depts[d.Name]; {
		case d.Name == "":
			bad(key+".name", "is required")
		case dup:
			bad(key+".name", "duplicate department %q (also departments[%d])", d.Name, j)
		case !named[d.Name]:
			// Most likely a typo: the department would never be shown.
			bad(key+".name", "no window or item has department %q", d.Name)
		}
		depts[d.Name] = i
	}

	checkDates := func(key string, dates []string) {
		for i, d := range dates {
			if _, err := time.Parse(time.DateOnly, d); err != nil {
				bad(fmt.Sprintf("%s[%d]", key, i), "%q is not a date (YYYY-MM-DD)", d)
			}
		}
	}
	checkDates("calendar.holidays", c.Calendar.Holidays)
	checkDates("calendar.workdays", c.Calendar.Workdays)

	return errors.Join(errs...)
}

func checkRTSPURL(raw string) error {
	if raw == "" {
		return errors.New("is required (the window camera's rtsp:// URL)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %v", raw, err)
	}
	if u.Scheme != "rtsp" && u.Scheme != "rtsps" {
		return fmt.Errorf("%q must start with rtsp:// or rtsps://", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", raw)
	}
	return nil
}

// parentCycle returns a description of the first cycle in the hall tree,
// or "" when the parents form a forest.
func (c *Config) parentCycle() string {
	parent := map[string]string{}
	for _, h := range c.Halls {
		parent[h.ID] = h.Parent
	}
	for _, h := range c.Halls {
		seen := map[string]bool{}
		path := []string{}
		for id := h.ID; id != ""; id = parent[id] {
			if seen[id] {
				return strings.Join(append(path, id), " -> ")
			}
			seen[id] = true
			path = append(path, id)
		}
	}
	return ""
}
