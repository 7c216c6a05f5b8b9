package grantstest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// wireHeaders are the response headers a golden file pins.
var wireHeaders = []string{"Cache-Control", "Content-Type", "Pragma"}

// golden is what a golden file holds: the status, the headers that matter, and the JSON body.
type golden struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    interface{}       `json:"body"`
}

// Golden compares res with testdata/<name>.golden.json (relative to the test's package directory), or
// rewrites the file when the tests run with -update. Secret or random values in the body (codes,
// tokens) must be given in replace, mapping each value to the placeholder the file shows instead: a
// golden file pins the shape of the wire format, not the randomness.
func Golden(t testing.TB, name string, res *Response, replace map[string]string) {
	t.Helper()
	body := string(res.Body)
	for value, placeholder := range replace {
		if value != "" {
			body = strings.ReplaceAll(body, value, placeholder)
		}
	}
	var decoded interface{}
	require.NoError(t, json.Unmarshal([]byte(body), &decoded), "body: %s", res.Body)
	g := golden{Status: res.Status, Headers: map[string]string{}, Body: decoded}
	for _, h := range wireHeaders {
		if v := res.Header.Get(h); v != "" {
			g.Headers[h] = v
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // placeholders stay readable: <device_code>, not \u003cdevice_code\u003e
	enc.SetIndent("", "  ")
	require.NoError(t, enc.Encode(g))
	got := buf.Bytes()

	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run the tests with -update to create it")
	require.Equal(t, string(want), string(got), "response differs from %s; run with -update if the change is intended", path)
}
