// Package config owns Sunlight's YAML configuration: its shape, its
// defaults and its validation. Every key is documented, with its default, in
// deploy/sunlight.example.yaml.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration file.
type Config struct {
	// Listen is the HTTP address of the API and console (HTTPS when tls
	// has a certificate). Default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// TLS serves Listen over HTTPS. Default off (plain HTTP).
	TLS TLS `yaml:"tls"`
	// MetricsListen, when set, serves /metrics without auth on its own
	// address (for a Prometheus scraper); /metrics on Listen is admin-only.
	MetricsListen string `yaml:"metrics_listen"`
	// TrustedProxies are the addresses (IPs or CIDRs) of reverse proxies
	// whose X-Forwarded-For names the client: sign-in throttling and the
	// audit log go by the client's address. Default none: the header is
	// ignored, since any client could forge it.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// DataDir holds the managed ClickHouse, recordings, the spool and the
	// session key. Default ./data next to the config file.
	DataDir string `yaml:"data_dir"`
	// Timezone is the halls' time zone for display and working days.
	// Default Asia/Shanghai.
	Timezone string `yaml:"timezone"`

	ClickHouse  ClickHouse   `yaml:"clickhouse"`
	WebRTC      WebRTC       `yaml:"webrtc"`
	Recording   Recording    `yaml:"recording"`
	Auth        Auth         `yaml:"auth"`
	Halls       []Hall       `yaml:"halls"`
	Items       []Item       `yaml:"items"`
	Departments []Department `yaml:"departments"`
	Calendar    Calendar     `yaml:"calendar"`
	Intake      Intake       `yaml:"intake"`
	Supervision Supervision  `yaml:"supervision"`
	Audit       Audit        `yaml:"audit"`

	// Path is the file the config was read from (not a YAML key).
	Path string `yaml:"-"`
}

// ClickHouse says where the analytics database lives.
type ClickHouse struct {
	// Addr lists native-protocol host:port addresses. Empty: Sunlight
	// starts and manages its own local clickhouse-server.
	Addr []string `yaml:"addr"`
	// Database is created if missing. Default "sunlight".
	Database string `yaml:"database"`
	// Username and Password for Addr. Default user "default", no password.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// Cluster names the ClickHouse cluster (its remote_servers entry) that
	// Addr's servers belong to: the schema is made ON CLUSTER, replicated
	// tables on each shard with Distributed tables over them. Needs Addr
	// and, in the user's profile, distributed_product_mode = 'global' and
	// insert_distributed_sync = 1. Default none: one server.
	Cluster string `yaml:"cluster"`
	// Managed tunes the managed local server (only used when Addr is empty).
	Managed ManagedClickHouse `yaml:"managed"`
}

// ManagedClickHouse is the local clickhouse-server that serve runs itself.
type ManagedClickHouse struct {
	// Binary is the clickhouse-server executable. Default: found on PATH.
	Binary string `yaml:"binary"`
	// TCPPort is the native port. Default 19000.
	TCPPort int `yaml:"tcp_port"`
	// HTTPPort is the HTTP port. Default 18123.
	HTTPPort int `yaml:"http_port"`
	// Nice is the managed server's CPU niceness, 0 to 19: above
	// Sunlight's 0, acknowledging events goes first when both want the
	// cores. Default 10; 0 runs it at Sunlight's priority.
	Nice *int `yaml:"nice"`
}

// WebRTC configures live viewing.
type WebRTC struct {
	// UDPPort is the one UDP port all peers share. Default 8189.
	UDPPort int `yaml:"udp_port"`
	// PublicIPs are announced as host candidates (for NAT). Default none.
	PublicIPs []string `yaml:"public_ips"`
	// Interfaces names the network interfaces whose addresses are
	// announced (loopback too when listed). Default: every interface's
	// addresses but loopback's.
	Interfaces []string `yaml:"interfaces"`
	// ICEServers are given to browsers and used by the server. Default none.
	ICEServers []ICEServer `yaml:"ice_servers"`
	// MaxViewersPerWindow bounds live sessions per window. Default 16.
	MaxViewersPerWindow int `yaml:"max_viewers_per_window"`
	// MaxSessionsPerUser bounds the live sessions one user has open (or
	// opening) at once, over all windows. Default 4.
	MaxSessionsPerUser int `yaml:"max_sessions_per_user"`
}

// ICEServer is a STUN or TURN server.
type ICEServer struct {
	URLs       []string `yaml:"urls"`
	Username   string   `yaml:"username"`
	Credential string   `yaml:"credential"`
}

// Recording configures the recorder.
type Recording struct {
	// Dir holds segments. Default <data_dir>/recordings.
	Dir string `yaml:"dir"`
	// SegmentSeconds is the target segment length, cut at keyframes. Default 60.
	SegmentSeconds int `yaml:"segment_seconds"`
	// RetentionDays deletes segments older than this, unless held. Default 30.
	RetentionDays int `yaml:"retention_days"`
	// ClipPaddingSeconds widens each service interval of a case clip on
	// both sides. Default 5.
	ClipPaddingSeconds int `yaml:"clip_padding_seconds"`
	// MinFreePercent of the recording disk is kept free by deleting the
	// oldest segments that no legal hold covers. Default 5.
	MinFreePercent int `yaml:"min_free_percent"`
}

// Intake configures how events from the hall's systems are accepted: each
// accepted batch is first made durable in a local spool, which a writer
// drains into ClickHouse.
type Intake struct {
	// SpoolDir holds the spool. Default <data_dir>/spool.
	SpoolDir string `yaml:"spool_dir"`
	// SpoolMaxMB bounds the events waiting in the spool (while ClickHouse
	// is down); past it POST /api/v1/events answers 503. Default 1024.
	SpoolMaxMB int `yaml:"spool_max_mb"`
	// MaxBodyKB bounds one POST /api/v1/events body. Default 8192.
	MaxBodyKB int `yaml:"max_body_kb"`
	// BatchEvents is the most events the writer inserts at once. Default 200000.
	BatchEvents int `yaml:"batch_events"`
	// MaxEventAgeDays refuses events older than this many days (a queue
	// system replaying its history may send them). Default 1826 (5 years).
	MaxEventAgeDays int `yaml:"max_event_age_days"`
	// MaxEventAheadMinutes refuses events this far ahead of the server's
	// clock (clock skew). Default 10.
	MaxEventAheadMinutes int `yaml:"max_event_ahead_minutes"`
}

// Audit configures the tamper-evident audit log: a hash chain per node
// whose head is anchored by a checkpoint row signed with the node key
// (<data_dir>/node.key, made on first start).
type Audit struct {
	// CheckpointSeconds is how often the chain's head is anchored (when
	// rows were added since the last checkpoint; also at shutdown).
	// Default 300.
	CheckpointSeconds int `yaml:"checkpoint_seconds"`
}

// Supervision sets the thresholds of the supervision rules (电子监察).
type Supervision struct {
	// CaseWarnShare: a yellow warning once this share of a case's time
	// limit (in working days) has passed. Default 0.8.
	CaseWarnShare float64 `yaml:"case_warn_share"`
	// CaseWarnWorkdays: a yellow warning when this many working days or
	// fewer remain before the deadline. Default 1 (the last working day).
	CaseWarnWorkdays int `yaml:"case_warn_workdays"`
	// MaxHandlingMinutes: a service (call to end) longer than this is a
	// step over its own limit. Default 45.
	MaxHandlingMinutes int `yaml:"max_handling_minutes"`
	// UnattendedMinutes: a window open with tickets waiting for it and no
	// service started for this long is unattended. Default 10.
	UnattendedMinutes int `yaml:"unattended_minutes"`
	// BadRatingAtMost: a rating at or below this needs follow-up. Default 2.
	BadRatingAtMost int `yaml:"bad_rating_at_most"`
	// CameraOfflineSeconds: a camera offline this long raises an alert.
	// Default 30.
	CameraOfflineSeconds int `yaml:"camera_offline_seconds"`
}

// TLS serves the API and console over HTTPS on Listen.
type TLS struct {
	// CertFile is the PEM certificate chain (leaf first) and KeyFile its
	// PEM private key. Both or neither; with them Listen speaks only
	// HTTPS. `serve` reads them again on SIGHUP (a renewed certificate
	// takes effect without a restart; a pair that does not load keeps the
	// old one, logged). Default none: plain HTTP.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// RedirectListen, when set, is a plain-HTTP address that answers
	// every request with a permanent redirect (308) to the same path over
	// HTTPS on Listen's port. Default none.
	RedirectListen string `yaml:"redirect_listen"`
}

// Enabled reports whether Listen serves HTTPS.
func (t TLS) Enabled() bool { return t.CertFile != "" }

// Auth configures users, sessions and event producers.
type Auth struct {
	// UsersFile holds users and their password hashes (see `sunlight user
	// add`). Default <data_dir>/users.yaml.
	UsersFile string `yaml:"users_file"`
	// SessionTTL is how long a login lasts. Default 12h.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// APIKeys are the event producers allowed to post events.
	APIKeys []APIKey `yaml:"api_keys"`
}

// APIKey is one event producer; only the SHA-256 of its key is stored.
type APIKey struct {
	Name      string `yaml:"name"`
	KeySHA256 string `yaml:"key_sha256"`
	// Scope limits the key to the events of these halls and the halls
	// under them in the hall tree (parent). Empty: every hall.
	Scope []string `yaml:"scope"`
}

// Tier is a level of the service network.
type Tier string

// The three tiers of the network.
const (
	TierCity      Tier = "city"
	TierDistrict  Tier = "district"
	TierCommunity Tier = "community"
)

// Hall is a service hall with its numbered windows.
type Hall struct {
	ID      string   `yaml:"id"`
	Name    string   `yaml:"name"`
	Tier    Tier     `yaml:"tier"`
	Parent  string   `yaml:"parent"`
	Windows []Window `yaml:"windows"`
}

// Window is one service window and the camera above it.
type Window struct {
	ID         string   `yaml:"id"`
	Name       string   `yaml:"name"`
	Department string   `yaml:"department"`
	Items      []string `yaml:"items"`
	// Camera is the RTSP URL of the window's camera.
	Camera string `yaml:"camera"`
	// Transport is auto (UDP, falling back to TCP), udp or tcp. Default auto.
	Transport string `yaml:"transport"`
}

// Item is an approval or service item from the public catalog.
type Item struct {
	Code string `yaml:"code"`
	Name string `yaml:"name"`
	// NameEN is the name the console shows in English. Default: Name.
	NameEN     string `yaml:"name_en"`
	Department string `yaml:"department"`
	// TimeLimitDays is the legal time limit in working days (限时办结).
	TimeLimitDays int      `yaml:"time_limit_days"`
	LegalBasis    string   `yaml:"legal_basis"`
	Materials     []string `yaml:"materials"`
	Steps         []string `yaml:"steps"`
	Fee           string   `yaml:"fee"`
	Phone         string   `yaml:"phone"`
	// TargetWaitMinutes is the service-level target for waiting. Default 15.
	TargetWaitMinutes int `yaml:"target_wait_minutes"`
}

// Department is a department (部门) that windows and items name, listed
// to give it a name in English: the console shows NameEN in English mode
// (a department not listed shows its name in both languages).
type Department struct {
	// Name is the department as windows and items name it.
	Name   string `yaml:"name"`
	NameEN string `yaml:"name_en"`
}

// Calendar lists the exceptions to the Monday–Friday working week.
type Calendar struct {
	// Holidays are weekdays that are not worked (YYYY-MM-DD).
	Holidays []string `yaml:"holidays"`
	// Workdays are weekend days that are worked (调休, YYYY-MM-DD).
	Workdays []string `yaml:"workdays"`
}

// Load reads, defaults and validates the file at path. Relative paths in
// the file are made relative to the file's own folder.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	cfg.Path = abs
	cfg.resolvePaths(filepath.Dir(abs))
	return cfg, nil
}

// Parse decodes, defaults and validates a configuration; relative paths
// stay relative (Load resolves them).
func Parse(data []byte) (*Config, error) {
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the file is empty")
		}
		return nil, cleanYAMLError(err)
	}
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

var (
	unknownField = regexp.MustCompile(`field (\S+) not found in type config\.(\S+)`)
	badDuration  = regexp.MustCompile("cannot unmarshal !!str `([^`]*)` into time.Duration")
	badType      = regexp.MustCompile("cannot unmarshal !!(\\w+) `([^`]*)` into (\\S+)")
)

// cleanYAMLError turns yaml.v3's Go-flavoured messages into ones an
// operator can act on ("unknown key" instead of a Go type name).
func cleanYAMLError(err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: unmarshal errors:\n")
	msg = unknownField.ReplaceAllString(msg, `unknown key "$1" (in $2)`)
	msg = badDuration.ReplaceAllString(msg, `"$1" is not a duration (write it like 12h or 30m)`)
	msg = badType.ReplaceAllString(msg, `"$2" is not of the expected type ($3)`)
	msg = strings.ReplaceAll(msg, "\n  ", "; ")
	return errors.New(strings.TrimSpace(msg))
}

func (c *Config) applyDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	defInt := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	def(&c.Listen, "127.0.0.1:8080")
	def(&c.DataDir, "./data")
	def(&c.Timezone, "Asia/Shanghai")
	def(&c.ClickHouse.Database, "sunlight")
	def(&c.ClickHouse.Username, "default")
	defInt(&c.ClickHouse.Managed.TCPPort, 19000)
	defInt(&c.ClickHouse.Managed.HTTPPort, 18123)
	defInt(&c.WebRTC.UDPPort, 8189)
	defInt(&c.WebRTC.MaxViewersPerWindow, 16)
	defInt(&c.WebRTC.MaxSessionsPerUser, 4)
	def(&c.Recording.Dir, filepath.Join(c.DataDir, "recordings"))
	defInt(&c.Recording.SegmentSeconds, 60)
	defInt(&c.Recording.RetentionDays, 30)
	defInt(&c.Recording.ClipPaddingSeconds, 5)
	defInt(&c.Recording.MinFreePercent, 5)
	def(&c.Auth.UsersFile, filepath.Join(c.DataDir, "users.yaml"))
	def(&c.Intake.SpoolDir, filepath.Join(c.DataDir, "spool"))
	defInt(&c.Intake.SpoolMaxMB, 1024)
	defInt(&c.Intake.MaxBodyKB, 8192)
	defInt(&c.Intake.BatchEvents, 200000)
	defInt(&c.Intake.MaxEventAgeDays, 1826)
	defInt(&c.Intake.MaxEventAheadMinutes, 10)
	if c.Supervision.CaseWarnShare == 0 {
		c.Supervision.CaseWarnShare = 0.8
	}
	defInt(&c.Supervision.CaseWarnWorkdays, 1)
	defInt(&c.Supervision.MaxHandlingMinutes, 45)
	defInt(&c.Supervision.UnattendedMinutes, 10)
	defInt(&c.Supervision.BadRatingAtMost, 2)
	defInt(&c.Supervision.CameraOfflineSeconds, 30)
	defInt(&c.Audit.CheckpointSeconds, 300)
	if c.Auth.SessionTTL == 0 {
		c.Auth.SessionTTL = 12 * time.Hour
	}
	for i := range c.Halls {
		for j := range c.Halls[i].Windows {
			def(&c.Halls[i].Windows[j].Transport, "auto")
			def(&c.Halls[i].Windows[j].Name, c.Halls[i].Windows[j].ID)
		}
	}
	for i := range c.Items {
		defInt(&c.Items[i].TargetWaitMinutes, 15)
	}
}

func (c *Config) resolvePaths(base string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	abs(&c.DataDir)
	abs(&c.Recording.Dir)
	abs(&c.Auth.UsersFile)
	abs(&c.Intake.SpoolDir)
	abs(&c.TLS.CertFile)
	abs(&c.TLS.KeyFile)
	if strings.Contains(c.ClickHouse.Managed.Binary, "/") {
		abs(&c.ClickHouse.Managed.Binary)
	}
}
