package housecheck

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestInternalIsGround: internal/ holds what several packages share
// (config, apperr, media, spool, ...). A package there that imports one
// of the module's packages outside internal/ runs an arrow back up the
// house: it belongs beside what it serves (a harness under bench/, a test
// helper beside its package, domain logic in a package of its own).
// Test files count too: their imports are arrows as well.
func TestInternalIsGround(t *testing.T) {
	root := "../.."
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^module\s+(\S+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod names no module")
	}
	module := string(m[1])
	files := 0
	err = filepath.WalkDir(filepath.Join(root, "internal"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		files++
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return err
			}
			if upward(module, p) {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s imports %s: internal/ must import nothing of %s outside internal/", rel, p, module)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 10 {
		t.Fatalf("found only %d Go files under internal/: is the walk broken?", files)
	}
}

// upward tells whether path is a package of module outside its internal/.
func upward(module, path string) bool {
	if path != module && !strings.HasPrefix(path, module+"/") {
		return false
	}
	return path != module+"/internal" && !strings.HasPrefix(path, module+"/internal/")
}

func TestUpward(t *testing.T) {
	const mod = "example.org/sun"
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"example.org/sun/streaming", true},
		{"example.org/sun", true},
		{"example.org/sun/bench/livebench", true},
		{"example.org/sun/internal/config", false},
		{"example.org/sun/internal", false},
		{"example.org/sunrise/x", false},
		{"github.com/pion/webrtc/v4", false},
		{"fmt", false},
	} {
		if got := upward(mod, tc.path); got != tc.want {
			t.Errorf("upward(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}
