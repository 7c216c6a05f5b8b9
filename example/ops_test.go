package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/observe"
)

func TestTracesEnabled(t *testing.T) {
	for _, c := range []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"nothing set: off by default", nil, false},
		{"an endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true},
		{"a traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, true},
		{"the exporter named", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true},
		{"the exporter turned off", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, false},
		{"the SDK turned off", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, tracesEnabled(func(k string) string { return c.env[k] }))
		})
	}
}

func TestLogFormats(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger(&buf, "json", slog.LevelInfo)
	require.NoError(t, err)
	log.InfoContext(observe.WithRequestID(context.Background(), "req-7"), "approved")
	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line))
	require.Equal(t, "approved", line["msg"])
	require.Equal(t, "req-7", line["http_request_id"])

	buf.Reset()
	log, err = newLogger(&buf, "text", slog.LevelInfo)
	require.NoError(t, err)
	log.InfoContext(observe.WithRequestID(context.Background(), "req-8"), "approved")
	require.Contains(t, buf.String(), "http_request_id=req-8")

	_, err = newLogger(&buf, "xml", slog.LevelInfo)
	require.ErrorContains(t, err, `use "text" or "json"`)
}
