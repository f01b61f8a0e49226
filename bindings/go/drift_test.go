package ocireg_test

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestEveryCFunctionIsWrapped fails when include/ocireg.h declares a function that no Go source
// of the binding calls (as C.name, or from a C wrapper in a preamble).
func TestEveryCFunctionIsWrapped(t *testing.T) {
	header, err := os.ReadFile(filepath.Join("..", "..", "include", "ocireg.h"))
	if err != nil {
		t.Fatalf("reading the header: %v", err)
	}
	declared := map[string]bool{}
	for _, m := range regexp.MustCompile(`\b(ocireg_\w+)\(`).FindAllStringSubmatch(string(header), -1) {
		declared[m[1]] = true
	}
	if len(declared) < 100 {
		t.Fatalf("only %d functions found in the header", len(declared))
	}

	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(b)
	}
	code := src.String()
	var missing []string
	for name := range declared {
		called := regexp.MustCompile(`\bC\.`+name+`\(`).MatchString(code) ||
			regexp.MustCompile(`return `+name+`\(`).MatchString(code) // C wrappers taking a cgo.Handle
		if strings.HasPrefix(name, "ocireg_test_") {
			// Looked up at run time (feature `test-server`): a C wrapper calls it through
			// GOCIREG_TEST_CALL / GOCIREG_TEST_FN, and testServerFunctions lists it.
			called = regexp.MustCompile(`GOCIREG_TEST_(CALL|FN)\(`+name+`\b`).MatchString(code) &&
				strings.Contains(code, `"`+name+`"`)
		}
		if !called {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("%d C functions of include/ocireg.h are not wrapped by the Go binding:\n  %s",
			len(missing), strings.Join(missing, "\n  "))
	}
}
