package analytics

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"
)

// The managed server's configuration. It is deliberately minimal and uses only
// elements that clickhouse-server 18.16 (Debian's package) understands and that
// current releases still accept:
//   - the root element is <yandex>: 18.16 requires it, current releases accept
//     it as an alias of <clickhouse>;
//   - users come from users_config (current releases still honour it when no
//     <user_directories> is given);
//   - no interserver_http_port (unless the server is a cluster node, see
//     ClusterNode): without it no interserver listener starts;
//   - listen_host 127.0.0.1 only, and the default user may only connect from
//     127.0.0.1 and ::1;
//   - every path (data, tmp, user files, format schemas, user scripts, logs)
//     lives under Dir, so nothing is read from or written to /etc or /var;
//   - timezone UTC so that text conversions on the server do not depend on
//     the machine's zone (Sunlight's columns are DateTime('UTC') anyway);
//   - the logger writes warnings and errors to Dir/log/, size-limited
//     (5 files of 10 MiB).
//
// Elements that 18.16 does not know (user_scripts_path) are ignored by it.
var configTemplate = template.Must(template.New("config.xml").Parse(`<?xml version="1.0"?>
<!-- Written by Sunlight for its managed clickhouse-server. It is rewritten on
     every start: edits here are lost. -->
<yandex>
    <logger>
        <level>warning</level>
        <log>{{.LogDir}}/clickhouse-server.log</log>
        <errorlog>{{.LogDir}}/clickhouse-server.err.log</errorlog>
        <size>10M</size>
        <count>5</count>
    </logger>

    <listen_host>127.0.0.1</listen_host>
    <tcp_port>{{.TCPPort}}</tcp_port>
    <http_port>{{.HTTPPort}}</http_port>

    <max_connections>1024</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>

    <path>{{.DataDir}}/</path>
    <tmp_path>{{.TmpDir}}/</tmp_path>
    <user_files_path>{{.UserFilesDir}}/</user_files_path>
    <format_schema_path>{{.FormatSchemaDir}}/</format_schema_path>
    <user_scripts_path>{{.UserScriptsDir}}/</user_scripts_path>

    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <umask>027</umask>
    <mlock_executable>false</mlock_executable>

    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
{{- if .QueryLog}}
    <query_log><database>system</database><table>query_log</table><flush_interval_milliseconds>2000</flush_interval_milliseconds></query_log>
    <part_log><database>system</database><table>part_log</table><flush_interval_milliseconds>2000</flush_interval_milliseconds></part_log>
{{- end}}
    <default_session_timeout>60</default_session_timeout>
{{- with .Cluster}}
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <interserver_http_port>{{.InterserverPort}}</interserver_http_port>
    <remote_servers>
        <{{.Name}}>
{{- range .Shards}}
            <shard>
                <internal_replication>true</internal_replication>
{{- range .}}
                <replica><host>{{.Host}}</host><port>{{.Port}}</port></replica>
{{- end}}
            </shard>
{{- end}}
        </{{.Name}}>
    </remote_servers>
    <zookeeper>
{{- range .ZooKeeper}}
        <node><host>{{.Host}}</host><port>{{.Port}}</port></node>
{{- end}}
        <session_timeout_ms>10000</session_timeout_ms>
    </zookeeper>
    <macros>
        <shard>{{.Shard}}</shard>
        <replica>{{.Replica}}</replica>
    </macros>
    <distributed_ddl>
        <path>/clickhouse/task_queue/ddl</path>
    </distributed_ddl>
{{- end}}
</yandex>
`))

// ClusterNode places a managed server in a ClickHouse cluster: the
// remote_servers, zookeeper and macros sections of its config, and the
// interserver port its replicas fetch parts from. Its user profile gets the
// two settings Sunlight's cluster queries need (see cluster_schema.go).
type ClusterNode struct {
	// Name is the cluster's name in remote_servers (clickhouse.cluster).
	Name string
	// Shards lists every shard's replicas, native-protocol addresses.
	Shards [][]HostPort
	// ZooKeeper lists the ZooKeeper servers.
	ZooKeeper []HostPort
	// Shard and Replica are this server's macros, e.g. "01" and "r1".
	Shard, Replica string
	// InterserverPort is this server's replication (HTTP) port.
	InterserverPort int
}

// HostPort is a server address.
type HostPort struct {
	Host string
	Port int
}

// usersXML has one user, default, without a password, reachable from the
// loopback addresses only; the server itself listens on 127.0.0.1 only.
const usersXML = `<?xml version="1.0"?>
<!-- Written by Sunlight for its managed clickhouse-server. It is rewritten on
     every start: edits here are lost. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <log_queries>LOG_QUERIES</log_queries>
            <load_balancing>random</load_balancing>CLUSTER_SETTINGS
        </default>
        <readonly>
            <readonly>1</readonly>
        </readonly>
    </profiles>

    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>

    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
`

// managedLayout is where the managed server keeps its files under Dir.
type managedLayout struct {
	Dir             string
	ConfigDir       string
	LogDir          string
	DataDir         string
	TmpDir          string
	UserFilesDir    string
	FormatSchemaDir string
	UserScriptsDir  string
	TCPPort         int
	HTTPPort        int
	// QueryLog keeps system.query_log (every query, with its CPU time in
	// ProfileEvents) and system.part_log (parts written and merged), for
	// profiling: SUNLIGHT_CLICKHOUSE_QUERY_LOG=1, as the README's ingest
	// profile was made. Off by default: each log is a table written to
	// every few seconds.
	QueryLog bool
	// Cluster is the server's place in a cluster, or nil.
	Cluster *ClusterNode
}

func newManagedLayout(dir string, tcpPort, httpPort int) managedLayout {
	data := filepath.Join(dir, "data")
	return managedLayout{
		QueryLog:        os.Getenv("SUNLIGHT_CLICKHOUSE_QUERY_LOG") != "",
		Dir:             dir,
		ConfigDir:       filepath.Join(dir, "config"),
		LogDir:          filepath.Join(dir, "log"),
		DataDir:         data,
		TmpDir:          filepath.Join(data, "tmp"),
		UserFilesDir:    filepath.Join(data, "user_files"),
		FormatSchemaDir: filepath.Join(data, "format_schemas"),
		UserScriptsDir:  filepath.Join(data, "user_scripts"),
		TCPPort:         tcpPort,
		HTTPPort:        httpPort,
	}
}

func (l managedLayout) configFile() string { return filepath.Join(l.ConfigDir, "config.xml") }
func (l managedLayout) usersFile() string  { return filepath.Join(l.ConfigDir, "users.xml") }
func (l managedLayout) statusFile() string { return filepath.Join(l.DataDir, "status") }
func (l managedLayout) errLogFile() string {
	return filepath.Join(l.LogDir, "clickhouse-server.err.log")
}

// stderrFile receives the child's stdout and stderr: what it prints before its
// own logger is set up (bad config, missing libraries) only shows up there.
func (l managedLayout) stderrFile() string { return filepath.Join(l.LogDir, "stderr.log") }

// prepare creates the directories, checks that they are writable by this
// process and writes config.xml and users.xml.
func (l managedLayout) prepare() error {
	for _, d := range []string{l.Dir, l.ConfigDir, l.LogDir, l.DataDir, l.TmpDir, l.UserFilesDir, l.FormatSchemaDir, l.UserScriptsDir} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return fmt.Errorf("managed clickhouse: create %s: %w", d, err)
		}
	}
	// clickhouse-server needs to own (or at least write) its data directory;
	// current releases also refuse a data directory owned by another user
	// unless run as that user. Creating it ourselves makes the owner match;
	// a directory left by another user is reported here, not as a cryptic
	// server error.
	for _, d := range []string{l.ConfigDir, l.LogDir, l.DataDir} {
		f, err := os.CreateTemp(d, ".sunlight-write-check-*")
		if err != nil {
			return fmt.Errorf("managed clickhouse: %s is not writable by uid %d (chown it to this user): %w", d, os.Geteuid(), err)
		}
		name := f.Name()
		_ = f.Close()
		_ = os.Remove(name)
	}
	var buf bytes.Buffer
	esc := l
	for _, p := range []*string{&esc.LogDir, &esc.DataDir, &esc.TmpDir, &esc.UserFilesDir, &esc.FormatSchemaDir, &esc.UserScriptsDir} {
		*p = xmlEscape(*p)
	}
	if err := configTemplate.Execute(&buf, esc); err != nil {
		return fmt.Errorf("managed clickhouse: render config: %w", err)
	}
	if err := writeFileAtomic(l.configFile(), buf.Bytes()); err != nil {
		return err
	}
	logQueries := "0"
	if l.QueryLog {
		logQueries = "1"
	}
	clusterSettings := ""
	if l.Cluster != nil {
		clusterSettings = "\n            <distributed_product_mode>global</distributed_product_mode>" +
			"\n            <insert_distributed_sync>1</insert_distributed_sync>"
	}
	users := strings.NewReplacer("LOG_QUERIES", logQueries, "CLUSTER_SETTINGS", clusterSettings).Replace(usersXML)
	return writeFileAtomic(l.usersFile(), []byte(users))
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func writeFileAtomic(name string, data []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o640); err != nil {
		return fmt.Errorf("managed clickhouse: write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, name); err != nil {
		return fmt.Errorf("managed clickhouse: write %s: %w", name, err)
	}
	return nil
}
