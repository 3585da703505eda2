package ingestbench

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/sunlight-gov/sunlight/internal/config"
	"github.com/sunlight-gov/sunlight/internal/freeport"
)

// HallConfig describes the configuration the measured server runs on.
type HallConfig struct {
	// Dir receives the file (sunlight.yaml) and the server's data
	// directory. Required.
	Dir string
	// Halls and WindowsPerHall shape the network. Defaults 10 and 20.
	Halls          int
	WindowsPerHall int
	// CatalogFile is a configuration whose items and calendar are copied
	// (deploy/sunlight.example.yaml). Required.
	CatalogFile string
	// ClickHouseNice, if set, is the managed ClickHouse's niceness
	// (clickhouse.managed.nice; 0: the server's priority). Unset: the
	// server's default.
	ClickHouseNice *int
}

// Written is a configuration on disk with what a client needs to use it.
type Written struct {
	// Path is the file.
	Path string
	// Config is the file as the server reads it (config.Load).
	Config *config.Config
	// APIKey is the producer key whose SHA-256 is in the file.
	APIKey string
	// Listen, ClickHouseTCP: where the server and its managed ClickHouse
	// will listen.
	Listen        string
	ClickHouseTCP string
}

// The keys this package writes: the contract's (CONTRACT.md,
// "Configuration"), declared here rather than taken from config.Config so
// that the file holds only what the benchmark chooses and every other key
// takes the server's default.
type fileConfig struct {
	Listen     string `yaml:"listen"`
	DataDir    string `yaml:"data_dir"`
	ClickHouse struct {
		Addr    []string `yaml:"addr"`
		Managed struct {
			TCPPort  int  `yaml:"tcp_port"`
			HTTPPort int  `yaml:"http_port"`
			Nice     *int `yaml:"nice,omitempty"`
		} `yaml:"managed"`
	} `yaml:"clickhouse"`
	WebRTC struct {
		UDPPort int `yaml:"udp_port"`
	} `yaml:"webrtc"`
	Auth struct {
		UsersFile string       `yaml:"users_file"`
		APIKeys   []fileAPIKey `yaml:"api_keys"`
	} `yaml:"auth"`
	Halls    []fileHall      `yaml:"halls"`
	Items    []config.Item   `yaml:"items"`
	Calendar config.Calendar `yaml:"calendar"`
}

type fileAPIKey struct {
	Name      string `yaml:"name"`
	KeySHA256 string `yaml:"key_sha256"`
}

type fileHall struct {
	ID      string       `yaml:"id"`
	Name    string       `yaml:"name"`
	Tier    string       `yaml:"tier"`
	Parent  string       `yaml:"parent"`
	Windows []fileWindow `yaml:"windows"`
}

type fileWindow struct {
	ID         string   `yaml:"id"`
	Department string   `yaml:"department"`
	Items      []string `yaml:"items"`
	Camera     string   `yaml:"camera"`
}

// catalogFile is the part of a configuration file that HallConfig copies;
// read loosely, so that keys added to the example later do not matter.
type catalogFile struct {
	Items    []config.Item   `yaml:"items"`
	Calendar config.Calendar `yaml:"calendar"`
}

// Write writes the configuration on free loopback ports and loads it back
// as the server will.
//
// Every hall is a city hall (the busiest tier, so fewer days of history
// make a workload). Window j of a hall serves the items of the catalog's
// j-th department (round robin). Window ids are the hall's letter and the
// window's number ("A01", "J20"), unique across the file as the contract
// requires. Cameras point at a port that was free a moment ago: the server
// keeps retrying them with backoff, which costs little.
func (h HallConfig) Write() (*Written, error) {
	if h.Dir == "" || h.CatalogFile == "" {
		return nil, errors.New("hall config: Dir and CatalogFile are required")
	}
	halls, perHall := cmpOr(h.Halls, 10), cmpOr(h.WindowsPerHall, 20)
	if halls > 26 || perHall > 99 {
		return nil, fmt.Errorf("hall config: at most 26 halls of 99 windows (asked %d × %d)", halls, perHall)
	}
	raw, err := os.ReadFile(h.CatalogFile)
	if err != nil {
		return nil, fmt.Errorf("hall config: catalog: %w", err)
	}
	var cat catalogFile
	if err := yaml.Unmarshal(raw, &cat); err != nil {
		return nil, fmt.Errorf("hall config: catalog %s: %w", h.CatalogFile, err)
	}
	if len(cat.Items) == 0 {
		return nil, fmt.Errorf("hall config: catalog %s has no items", h.CatalogFile)
	}
	var depts []string
	byDept := map[string][]string{}
	for _, it := range cat.Items {
		if _, ok := byDept[it.Department]; !ok {
			depts = append(depts, it.Department)
		}
		byDept[it.Department] = append(byDept[it.Department], it.Code)
	}

	ports, err := freeTCPPorts(4) // listen, ClickHouse native and HTTP, closed camera port
	if err != nil {
		return nil, err
	}
	udp, err := freeport.UDP()
	if err != nil {
		return nil, err
	}
	key, err := randomKey()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(key))

	var f fileConfig
	f.Listen = fmt.Sprintf("127.0.0.1:%d", ports[0])
	f.DataDir = "./data"
	f.ClickHouse.Addr = []string{}
	f.ClickHouse.Managed.TCPPort, f.ClickHouse.Managed.HTTPPort = ports[1], ports[2]
	f.ClickHouse.Managed.Nice = h.ClickHouseNice
	f.WebRTC.UDPPort = udp
	f.Auth.UsersFile = "./users.yaml"
	f.Auth.APIKeys = []fileAPIKey{{Name: "ingestbench", KeySHA256: hex.EncodeToString(sum[:])}}
	f.Items, f.Calendar = cat.Items, cat.Calendar
	for i := range halls {
		letter := string(rune('A' + i))
		hall := fileHall{ID: "hall-" + letter, Name: "政务服务中心" + letter + "厅", Tier: string(config.TierCity)}
		for j := range perHall {
			id := fmt.Sprintf("%s%02d", letter, j+1)
			dept := depts[j%len(depts)]
			hall.Windows = append(hall.Windows, fileWindow{
				ID: id, Department: dept, Items: slices.Clone(byDept[dept]),
				Camera: fmt.Sprintf("rtsp://127.0.0.1:%d/window/%s", ports[3], id),
			})
		}
		f.Halls = append(f.Halls, hall)
	}

	out, err := yaml.Marshal(&f)
	if err != nil {
		return nil, fmt.Errorf("hall config: encode: %w", err)
	}
	path := filepath.Join(h.Dir, "sunlight.yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		return nil, fmt.Errorf("hall config: %w", err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, fmt.Errorf("hall config: the written file is not valid: %w", err)
	}
	return &Written{Path: path, Config: cfg, APIKey: key, Listen: f.Listen,
		ClickHouseTCP: fmt.Sprintf("127.0.0.1:%d", ports[1])}, nil
}

func cmpOr(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// freeTCPPorts returns n distinct loopback ports that were free a moment
// ago.
func freeTCPPorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for len(ports) < n {
		p, err := freeport.TCP()
		if err != nil {
			return nil, err
		}
		if !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	return ports, nil
}

func randomKey() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("api key: %w", err)
	}
	return "ingestbench-" + hex.EncodeToString(b), nil
}
