package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// minimal is the file CONTRACT.md says must be accepted as it is.
const minimal = `listen: 127.0.0.1:8080
data_dir: ./data
clickhouse:
  addr: []                 # empty: managed local clickhouse-server
auth:
  users_file: ./users.yaml
  api_keys:
    - name: queue-system
      key_sha256: "79976adc394ed8f7463eb3ddd06382f7ed1e9626ba8ecb171acc00b12f63f0e9"   # sha256 of the key "demo-queue-key"
halls:
  - id: city-main
    name: 市政务服务中心主大厅
    tier: city             # city | district | community
    parent: ""             # id of the hall above, if any
    windows:
      - id: A01
        department: 市场监管局
        items: [SC-001]
        camera: rtsp://127.0.0.1:8554/window/A01
items:
  - code: SC-001
    name: 企业设立登记
    department: 市场监管局
    time_limit_days: 3
`

func TestLoadMinimalContractFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sunlight.yaml")
	require.NoError(t, os.WriteFile(path, []byte(minimal), 0o644))

	cfg, err := Load(path)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:8080", cfg.Listen)
	require.Equal(t, filepath.Join(dir, "data"), cfg.DataDir, "relative paths are relative to the file")
	require.Equal(t, filepath.Join(dir, "users.yaml"), cfg.Auth.UsersFile)
	require.Equal(t, filepath.Join(dir, "data", "recordings"), cfg.Recording.Dir)
	require.Empty(t, cfg.ClickHouse.Addr)
	require.Equal(t, "sunlight", cfg.ClickHouse.Database)
	require.Equal(t, 19000, cfg.ClickHouse.Managed.TCPPort)
	require.Equal(t, 18123, cfg.ClickHouse.Managed.HTTPPort)
	require.Equal(t, 8189, cfg.WebRTC.UDPPort)
	require.Equal(t, 60, cfg.Recording.SegmentSeconds)
	require.Equal(t, 12*time.Hour, cfg.Auth.SessionTTL)
	require.Equal(t, "auto", cfg.Halls[0].Windows[0].Transport)
	require.Equal(t, "Asia/Shanghai", cfg.Location().String())

	ref, ok := cfg.FindWindow("A01")
	require.True(t, ok)
	require.Equal(t, "city-main", ref.Hall.ID)
	_, ok = cfg.FindWindow("A02")
	require.False(t, ok)
}

func TestExampleConfigIsValid(t *testing.T) {
	cfg, err := Load("../../deploy/sunlight.example.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, cfg.Halls)
}

func TestValidationErrors(t *testing.T) {
	tests := []struct {
		name    string
		replace [2]string // old, new applied to the minimal file
		want    string
	}{
		{"unknown top-level key", [2]string{"listen:", "lisen:"}, `unknown key "lisen"`},
		{"unknown nested key", [2]string{"    tier: city", "    tier: city\n    colour: red"}, `unknown key "colour"`},
		{"bad listen", [2]string{"listen: 127.0.0.1:8080", "listen: localhost"}, `listen: "localhost" is not host:port`},
		{"duplicate window id", [2]string{"        camera: rtsp://127.0.0.1:8554/window/A01\n",
			"        camera: rtsp://127.0.0.1:8554/window/A01\n      - id: A01\n        department: 税务局\n        camera: rtsp://127.0.0.1:8554/window/A01b\n"},
			`halls[0].windows[1].id: duplicate window id "A01" (also halls[0].windows[0])`},
		{"bad rtsp url", [2]string{"camera: rtsp://127.0.0.1:8554/window/A01", "camera: http://127.0.0.1/cam"}, `halls[0].windows[0].camera: "http://127.0.0.1/cam" must start with rtsp://`},
		{"missing camera", [2]string{"        camera: rtsp://127.0.0.1:8554/window/A01\n", ""}, `halls[0].windows[0].camera: is required`},
		{"item without time limit", [2]string{"    time_limit_days: 3\n", ""}, `items[0].time_limit_days: item "SC-001" needs a time limit`},
		{"unknown item on window", [2]string{"items: [SC-001]", "items: [SC-009]"}, `halls[0].windows[0].items[0]: unknown item code "SC-009"`},
		{"bad tier", [2]string{"tier: city ", "tier: town "}, `halls[0].tier: "town" is not one of city, district, community`},
		{"unknown parent", [2]string{`parent: ""`, `parent: "nowhere"`}, `halls[0].parent: no hall has id "nowhere"`},
		{"bad api key hash", [2]string{"79976adc394ed8f7463eb3ddd06382f7ed1e9626ba8ecb171acc00b12f63f0e9", "demo-queue-key"}, `auth.api_keys[0].key_sha256: must be 64 hex digits`},
		{"bad window id", [2]string{"- id: A01", "- id: A 01"}, `halls[0].windows[0].id: "A 01" is not a valid window id`},
		{"bad timezone", [2]string{"data_dir: ./data", "data_dir: ./data\ntimezone: Mars/Olympus"}, `timezone: unknown time zone "Mars/Olympus"`},
		{"bad session ttl", [2]string{"  users_file: ./users.yaml", "  users_file: ./users.yaml\n  session_ttl: 10s"}, `auth.session_ttl: 10s is shorter than a minute`},
		{"session ttl not a duration", [2]string{"  users_file: ./users.yaml", "  users_file: ./users.yaml\n  session_ttl: soon"}, `line 7: "soon" is not a duration`},
		{"bad holiday", [2]string{"\nitems:\n", "\ncalendar:\n  holidays: [2026-13-01]\nitems:\n"}, `calendar.holidays[0]: "2026-13-01" is not a date`},
		{"bad public ip", [2]string{"\nitems:\n", "\nwebrtc:\n  public_ips: [not-an-ip]\nitems:\n"}, `webrtc.public_ips[0]: "not-an-ip" is not an IP address`},
		{"unknown interface", [2]string{"\nitems:\n", "\nwebrtc:\n  interfaces: [lo, nosuch0]\nitems:\n"}, `webrtc.interfaces[1]: no network interface "nosuch0" on this machine`},
		{"bad clickhouse addr", [2]string{"addr: []", "addr: [clickhouse]"}, `clickhouse.addr[0]: "clickhouse" is not host:port`},
		{"cluster without addr", [2]string{"  addr: []                 # empty: managed local clickhouse-server", "  addr: []\n  cluster: sunlight"}, `clickhouse.cluster: a cluster needs clickhouse.addr (the managed server is one server)`},
		{"bad clickhouse nice", [2]string{"  addr: []                 # empty: managed local clickhouse-server", "  addr: []\n  managed:\n    nice: 20"}, `clickhouse.managed.nice: 20 is not a niceness from 0 (Sunlight's priority) to 19`},
		{"unknown department", [2]string{"\nitems:\n", "\ndepartments:\n  - name: 市场监督局\n    name_en: Market Supervision\nitems:\n"},
			`departments[0].name: no window or item has department "市场监督局"`},
		{"duplicate department", [2]string{"\nitems:\n", "\ndepartments:\n  - name: 市场监管局\n  - name: 市场监管局\nitems:\n"},
			`departments[1].name: duplicate department "市场监管局" (also departments[0])`},
		{"tls cert without key", [2]string{"\nitems:\n", "\ntls:\n  cert_file: ./cert.pem\nitems:\n"}, `tls.key_file: is required with tls.cert_file`},
		{"tls key without cert", [2]string{"\nitems:\n", "\ntls:\n  key_file: ./key.pem\nitems:\n"}, `tls.cert_file: is required with tls.key_file`},
		{"redirect without tls", [2]string{"\nitems:\n", "\ntls:\n  redirect_listen: 127.0.0.1:8081\nitems:\n"}, `tls.redirect_listen: redirects to HTTPS: set tls.cert_file and tls.key_file too`},
		{"bad redirect address", [2]string{"\nitems:\n", "\ntls:\n  cert_file: c.pem\n  key_file: k.pem\n  redirect_listen: ':http'\nitems:\n"}, `tls.redirect_listen: ":http" has an invalid port`},
		{"bad transport", [2]string{"        items: [SC-001]", "        items: [SC-001]\n        transport: quic"}, `halls[0].windows[0].transport: "quic" is not one of auto, udp, tcp`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(minimal, tt.replace[0], tt.replace[1], 1)
			require.NotEqual(t, minimal, src, "the test's replacement must change the file")
			_, err := Parse([]byte(src))
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestValidationReportsEveryProblem(t *testing.T) {
	src := strings.Replace(minimal, "listen: 127.0.0.1:8080", "listen: nope", 1)
	src = strings.Replace(src, "    time_limit_days: 3\n", "", 1)
	_, err := Parse([]byte(src))
	require.Error(t, err)
	require.Contains(t, err.Error(), "listen:")
	require.Contains(t, err.Error(), "time_limit_days")
}

func TestEmptyFile(t *testing.T) {
	_, err := Parse(nil)
	require.ErrorContains(t, err, "empty")
}

func TestParentCycle(t *testing.T) {
	src := minimal + `
`
	src = strings.Replace(src, `parent: ""`, `parent: "district-1"`, 1)
	src = strings.Replace(src, "items:\n", `  - id: district-1
    name: 区政务服务中心
    tier: district
    parent: city-main
items:
`, 1)
	_, err := Parse([]byte(src))
	require.ErrorContains(t, err, "parent cycle")
}

func TestDepartmentsAndEnglishNames(t *testing.T) {
	src := strings.Replace(minimal, "\nitems:\n", "\ndepartments:\n  - name: 市场监管局\n    name_en: Market Regulation\nitems:\n", 1)
	src = strings.Replace(src, "    name: 企业设立登记\n", "    name: 企业设立登记\n    name_en: Business registration\n", 1)
	src = strings.Replace(src, "window/A01\n", "window/A01\n      - id: A02\n        department: 税务局\n        camera: rtsp://127.0.0.1:8554/window/A02\n", 1)
	cfg, err := Parse([]byte(src))
	require.NoError(t, err)
	require.Equal(t, []Department{{Name: "市场监管局", NameEN: "Market Regulation"}, {Name: "税务局"}}, cfg.AllDepartments(),
		"the listed departments first, then those only windows or items name")
	require.Equal(t, "Market Regulation", cfg.DepartmentEN("市场监管局"))
	require.Empty(t, cfg.DepartmentEN("税务局"))
	it, ok := cfg.FindItem("SC-001")
	require.True(t, ok)
	require.Equal(t, "Business registration", it.NameEN)
}

func TestTLSPathsRelativeToTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sunlight.yaml")
	src := strings.Replace(minimal, "\nitems:\n", "\ntls:\n  cert_file: tls/cert.pem\n  key_file: /etc/sunlight/key.pem\nitems:\n", 1)
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	cfg, err := Load(path)
	require.NoError(t, err)
	require.True(t, cfg.TLS.Enabled())
	require.Equal(t, filepath.Join(dir, "tls/cert.pem"), cfg.TLS.CertFile)
	require.Equal(t, "/etc/sunlight/key.pem", cfg.TLS.KeyFile)
	plain, err := Parse([]byte(minimal))
	require.NoError(t, err)
	require.False(t, plain.TLS.Enabled(), "TLS is off by default")
}
