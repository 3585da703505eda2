package console

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/internal/apperr"
)

// clientErrorCodes are the err.* texts of web/src/i18n.js that no server
// code has: the console's own (no answer at all; an answer that is not the
// API's JSON).
var clientErrorCodes = map[string][]string{"network": nil, "http": {"status"}}

var (
	i18nErrLine = regexp.MustCompile(`^\s*'err\.([a-z0-9_]+)':\s*\['((?:[^'\\]|\\.)*)',\s*'((?:[^'\\]|\\.)*)'\],?\s*$`)
	placeholder = regexp.MustCompile(`\{(\w+)\}`)
)

// consoleErrorTexts reads the err.<code> translations of the console.
func consoleErrorTexts(t *testing.T) map[string][2]string {
	t.Helper()
	src, err := os.ReadFile("../web/src/i18n.js")
	require.NoError(t, err)
	out := map[string][2]string{}
	for _, line := range strings.Split(string(src), "\n") {
		if m := i18nErrLine.FindStringSubmatch(line); m != nil {
			out[m[1]] = [2]string{m[2], m[3]}
		} else if strings.Contains(line, "'err.") {
			t.Errorf("i18n.js: cannot read %q: write an err.* text on one line, ['中文', 'English']", strings.TrimSpace(line))
		}
	}
	return out
}

// TestErrorCodesTranslated: every code the server can answer has its text
// in both languages, naming only the parameters the code carries (a
// missing one would show as "{case}"), and the console has no text for a
// code that no longer exists.
func TestErrorCodesTranslated(t *testing.T) {
	texts := consoleErrorTexts(t)
	params := map[string][]string{}
	for name, p := range clientErrorCodes {
		params[name] = p
	}
	for _, c := range apperr.Codes() {
		params[c.Name()] = c.Params()
	}
	for name, declared := range params {
		t.Run(name, func(t *testing.T) {
			pair, ok := texts[name]
			if !ok {
				t.Fatalf("web/src/i18n.js has no 'err.%s': ['中文', 'English']", name)
			}
			zh, en := pair[0], pair[1]
			if !strings.ContainsFunc(zh, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
				t.Errorf("err.%s: the Chinese text %q is not Chinese", name, zh)
			}
			if en == "" || strings.ContainsFunc(en, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
				t.Errorf("err.%s: the English text %q is empty or holds Chinese", name, en)
			}
			for _, s := range pair {
				for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
					if !slices.Contains(declared, m[1]) {
						t.Errorf("err.%s: %q names {%s}, which the code does not carry (it has %v)", name, s, m[1], declared)
					}
				}
			}
		})
	}
	for name := range texts {
		if _, ok := params[name]; !ok {
			t.Errorf("web/src/i18n.js has err.%s, but no code is named %s (internal/apperr/codes.go)", name, name)
		}
	}
}

// TestErrorCodeParams reads every apperr.<Code>.New call of the module:
// inside a function it must pass exactly the parameters its code declares
// (the console's text names them); a package-level sentinel may pass nil.
func TestErrorCodeParams(t *testing.T) {
	codes := map[string]*apperr.Code{}
	for _, c := range apperr.Codes() {
		codes[c.Name()] = c
	}
	root := ".."
	calls := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata" || name == "web") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			_, inFunc := decl.(*ast.FuncDecl)
			ast.Inspect(decl, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				ident, ok := codeOfCall(call)
				if !ok {
					return true
				}
				calls++
				at := fset.Position(call.Pos())
				c, ok := codes[snakeCase(ident)]
				if !ok {
					t.Errorf("%s: apperr.%s: no code is named %s (a code's Go name is its name in CamelCase)", at, ident, snakeCase(ident))
					return true
				}
				given, ok := paramKeys(call.Args[0])
				switch {
				case !ok:
					t.Errorf("%s: apperr.%s.New: give the parameters as an apperr.P{...} literal with string keys, or nil", at, ident)
				case given == nil && !inFunc:
					// A sentinel: returned with its parameters elsewhere.
				default:
					want := c.Params()
					slices.Sort(want)
					slices.Sort(given)
					if !slices.Equal(want, given) {
						t.Errorf("%s: apperr.%s.New passes %v; the code carries %v", at, ident, given, want)
					}
				}
				return true
			})
		}
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, calls, 40, "the walk found too few coded errors: is it broken?")
}

// codeOfCall recognises apperr.<Code>.New(...) and returns <Code>.
func codeOfCall(call *ast.CallExpr) (string, bool) {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "New" || len(call.Args) < 2 {
		return "", false
	}
	inner, ok := sel.X.(*ast.SelectorExpr)
	if !ok {
		return "", false
	}
	pkg, ok := inner.X.(*ast.Ident)
	if !ok || pkg.Name != "apperr" {
		return "", false
	}
	return inner.Sel.Name, true
}

// paramKeys reads the keys of an apperr.P literal (nil for nil).
func paramKeys(e ast.Expr) ([]string, bool) {
	if id, ok := e.(*ast.Ident); ok && id.Name == "nil" {
		return nil, true
	}
	lit, ok := e.(*ast.CompositeLit)
	if !ok {
		return nil, false
	}
	keys := []string{}
	for _, el := range lit.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok {
			return nil, false
		}
		b, ok := kv.Key.(*ast.BasicLit)
		if !ok || b.Kind != token.STRING {
			return nil, false
		}
		k, err := strconv.Unquote(b.Value)
		if err != nil {
			return nil, false
		}
		keys = append(keys, k)
	}
	return keys, true
}

// snakeCase: CaseNotFound -> case_not_found, APIKeyUnknown -> api_key_unknown.
func snakeCase(s string) string {
	r := []rune(s)
	var b strings.Builder
	for i, c := range r {
		if unicode.IsUpper(c) && i > 0 && (unicode.IsLower(r[i-1]) || i+1 < len(r) && unicode.IsLower(r[i+1])) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

// TestErrorBody: a coded error answers its code and parameters beside the
// text, an uncoded one its text alone, and an internal error neither its
// text nor anything but the code "internal".
func TestErrorBody(t *testing.T) {
	coded := apperr.CaseNotFound.New(apperr.P{"case": "CM-1"}, "case %s: no such case", "CM-1")
	require.Equal(t, map[string]any{"error": "case CM-1: no such case", "code": "case_not_found", "params": apperr.P{"case": "CM-1"}},
		map[string]any(errorBody(coded)))
	require.Equal(t, map[string]any{"error": "plain"}, map[string]any(errorBody(apperr.New(apperr.Invalid, "plain"))))
	require.Equal(t, map[string]any{"error": "internal error", "code": "internal"}, map[string]any(errorBody(apperr.Internal.New(nil, "internal error"))))
	// A package's prefix on an error of a kind is not shown.
	wrapped := fmt.Errorf("analytics: webrtc: %w", apperr.New(apperr.NotFound, "case CM-1: no such case"))
	require.Equal(t, map[string]any{"error": "case CM-1: no such case"}, map[string]any(errorBody(wrapped)))
}
