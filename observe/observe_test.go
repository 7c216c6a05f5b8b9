package observe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/observe"
)

func TestOutcome(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, observe.OutcomeOK},
		{"pending error", pending.ErrSlowDown, "slow_down"},
		{"pending error with hint", pending.ErrAuthorizationPending.WithHint("wait"), "authorization_pending"},
		{"fosite error", fosite.ErrInvalidGrant.WithHint("The handle is unknown."), "invalid_grant"},
		{"fosite error wrapped", fmt.Errorf("refresh: %w", fosite.ErrInvalidClient), "invalid_client"},
		{"too many attempts", pending.ErrTooManyAttempts.WithHint("Try later."), "temporarily_unavailable"},
		{"server error", fosite.ErrServerError.WithWrap(errors.New("disk full")), "server_error"},
		{"plain error", errors.New("disk full"), observe.OutcomeOtherError},
		// A code nobody defined (it could come from anywhere) is not passed through as a label.
		{"unknown code", &fosite.RFC6749Error{ErrorField: "alice@example.com", CodeField: 400}, observe.OutcomeOtherError},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, observe.Outcome(c.err))
		})
	}
}

func TestValidRequestID(t *testing.T) {
	for _, c := range []struct {
		name string
		id   string
		want bool
	}{
		{"uuid", "3f1c2a9e-8b7d-4e6f-9a0b-1c2d3e4f5a6b", true},
		{"proxy style", "req:42.a_b", true},
		{"empty", "", false},
		{"line break", "abc\ndef", false},
		{"space", "abc def", false},
		{"quote", `abc"def`, false},
		{"non-ASCII", "abcé", false},
		{"longest", strings.Repeat("a", observe.MaxRequestIDLength), true},
		{"too long", strings.Repeat("a", observe.MaxRequestIDLength+1), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, observe.ValidRequestID(c.id))
		})
	}
}

// FuzzValidRequestID: whatever a client sends, an ID that is kept is short, printable ASCII with no
// space, quote or line break, so it cannot forge a log line or a label.
func FuzzValidRequestID(f *testing.F) {
	for _, s := range []string{"abc", "a\r\nb", strings.Repeat("x", 100), "é", "a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if !observe.ValidRequestID(id) {
			return
		}
		require.LessOrEqual(t, len(id), observe.MaxRequestIDLength)
		require.NotEmpty(t, id)
		for _, r := range id {
			require.True(t, r < 0x7f && r > ' ' && r != '"' && r != '\\' && r != '=', "%q", id)
		}
	})
}

// recorder is an observe.HTTP that keeps what it was told.
type recorder struct {
	observe.Nop
	route  string
	status int
	id     string
}

func (r *recorder) HTTPRequest(ctx context.Context, method string) (context.Context, func(string, int)) {
	r.id = observe.RequestID(ctx)
	return ctx, func(route string, status int) { r.route, r.status = route, status }
}

func TestHandler(t *testing.T) {
	mux := http.NewServeMux()
	var seen string
	mux.HandleFunc("POST /things/{id}", func(w http.ResponseWriter, r *http.Request) {
		seen = observe.RequestID(r.Context())
		w.WriteHeader(http.StatusCreated)
	})
	for _, c := range []struct {
		name     string
		trust    bool
		method   string
		path     string
		incoming []string
		keep     bool
		route    string
		status   int
	}{
		{"kept", true, http.MethodPost, "/things/7", []string{"proxy-123"}, true, "POST /things/{id}", http.StatusCreated},
		{"not trusted", false, http.MethodPost, "/things/7", []string{"proxy-123"}, false, "POST /things/{id}", http.StatusCreated},
		{"insane", true, http.MethodPost, "/things/7", []string{"a\"b"}, false, "POST /things/{id}", http.StatusCreated},
		{"two of them", true, http.MethodPost, "/things/7", []string{"a", "b"}, false, "POST /things/{id}", http.StatusCreated},
		{"none", true, http.MethodPost, "/things/7", nil, false, "POST /things/{id}", http.StatusCreated},
		{"no route", true, http.MethodGet, "/elsewhere", nil, false, "", http.StatusNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			seen = ""
			rec := &recorder{}
			h := &observe.Handler{Next: mux, Observer: rec, TrustRequestID: c.trust}
			req := httptest.NewRequest(c.method, c.path, nil)
			for _, v := range c.incoming {
				req.Header.Add(observe.HeaderRequestID, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			id := w.Header().Get(observe.HeaderRequestID)
			if c.keep {
				require.Equal(t, c.incoming[0], id)
			} else {
				require.Regexp(t, `^[0-9a-f]{32}$`, id)
			}
			require.Equal(t, id, rec.id)
			if c.status == http.StatusCreated {
				require.Equal(t, id, seen, "the handler sees the ID in its context")
			}
			require.Equal(t, c.route, rec.route)
			require.Equal(t, c.status, rec.status)
		})
	}
}

func TestLogHandlerAddsTheRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(observe.LogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "test")
	log.InfoContext(observe.WithRequestID(context.Background(), "req-1"), "in a request")
	log.Info("outside any request")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2)
	var in, out map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &in))
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &out))
	require.Equal(t, "req-1", in[observe.LogKeyRequestID])
	require.Equal(t, "test", in["component"])
	require.NotContains(t, out, observe.LogKeyRequestID)
}

func TestHealth(t *testing.T) {
	broken := errors.New("connection refused")
	for _, c := range []struct {
		name   string
		checks []observe.Check
		status int
		body   string
	}{
		{"no checks", nil, http.StatusOK, `{"status":"ready"}`},
		{"all pass", []observe.Check{{Name: "store", Run: func(context.Context) error { return nil }}}, http.StatusOK, `{"status":"ready"}`},
		{"one fails", []observe.Check{
			{Name: "store", Run: func(context.Context) error { return broken }},
			{Name: "cache", Run: func(context.Context) error { return nil }},
		}, http.StatusServiceUnavailable, `{"status":"unready","failed":{"store":"connection refused"}}`},
		{"long error", []observe.Check{{Name: "store", Run: func(context.Context) error { return errors.New(strings.Repeat("x", 1000)) }}},
			http.StatusServiceUnavailable, `{"status":"unready","failed":{"store":"` + strings.Repeat("x", 200) + `…"}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := &observe.Health{Checks: c.checks}
			w := httptest.NewRecorder()
			h.Ready(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			require.Equal(t, c.status, w.Code)
			require.JSONEq(t, c.body, w.Body.String())
			require.Equal(t, "no-store", w.Header().Get("Cache-Control"))
		})
	}
	t.Run("checks see a deadline", func(t *testing.T) {
		var deadline bool
		h := &observe.Health{Timeout: time.Second, Checks: []observe.Check{{Name: "store", Run: func(ctx context.Context) error {
			_, deadline = ctx.Deadline()
			return nil
		}}}}
		h.Ready(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/readyz", nil))
		require.True(t, deadline)
	})
	t.Run("live", func(t *testing.T) {
		w := httptest.NewRecorder()
		(&observe.Health{}).Live(w, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		require.Equal(t, http.StatusOK, w.Code)
		require.JSONEq(t, `{"status":"ok"}`, w.Body.String())
	})
}

// order is an Observer that appends what it is told to a shared log.
type order struct {
	observe.Nop
	name string
	log  *[]string
}

type key string

func (o order) GrantStep(ctx context.Context, grant string, step observe.Step) (context.Context, func(string)) {
	*o.log = append(*o.log, o.name+" begins "+grant+" "+string(step))
	ctx = context.WithValue(ctx, key(o.name), true)
	return ctx, func(outcome string) { *o.log = append(*o.log, o.name+" ends "+outcome) }
}

func TestMulti(t *testing.T) {
	var log []string
	m := observe.Multi(order{name: "a", log: &log}, nil, order{name: "b", log: &log})
	ctx, end := m.GrantStep(context.Background(), "device_code", observe.StepPoll)
	require.Equal(t, true, ctx.Value(key("a")))
	require.Equal(t, true, ctx.Value(key("b")), "contexts pass from one observer to the next")
	end("slow_down")
	require.Equal(t, []string{"a begins device_code poll", "b begins device_code poll", "b ends slow_down", "a ends slow_down"}, log)
	require.Equal(t, observe.Nop{}, observe.Multi(nil, nil))
}

// TestGrantTypeLabel: the grant types a server serves get short names; anything a client makes up is
// "other", so a metric's series stay few and no label repeats what a client sent.
func TestGrantTypeLabel(t *testing.T) {
	for _, c := range []struct{ name, grantType, want string }{
		{"device", "urn:ietf:params:oauth:grant-type:device_code", "device_code"},
		{"ciba", "urn:openid:params:grant-type:ciba", "ciba"},
		{"otp", "https://github.com/fosite-contrib/grants/grant-type/otp", "otp"},
		{"reciprocal", "urn:ietf:params:oauth:grant-type:reciprocal", "reciprocal"},
		{"refresh", "refresh_token", "refresh_token"},
		{"client credentials", "client_credentials", "client_credentials"},
		{"missing", "", observe.GrantTypeNone},
		{"made up", "urn:x:alice@example.com", observe.GrantTypeOther},
		{"case differs", "Client_Credentials", observe.GrantTypeOther},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, observe.GrantTypeLabel(c.grantType))
		})
	}
}

// requests is an Observer that records the requests it is told about.
type requests struct {
	observe.Nop
	seen *[]string
}

func (o requests) Request(_ context.Context, endpoint observe.Endpoint, grant, outcome string) {
	*o.seen = append(*o.seen, string(endpoint)+" "+grant+" "+outcome)
}

// TestReport: Report tells every observer how a request ended, as its outcome, and a nil observer
// nothing.
func TestReport(t *testing.T) {
	var a, b []string
	o := observe.Multi(requests{seen: &a}, nil, requests{seen: &b})
	observe.Report(context.Background(), o, observe.EndpointToken, "device_code", dpopRefusal)
	observe.Report(context.Background(), o, observe.EndpointBackchannel, "ciba", nil)
	require.Equal(t, []string{"token device_code invalid_dpop_proof", "backchannel_authentication ciba ok"}, a)
	require.Equal(t, a, b)
	var none observe.Observer
	observe.Report(context.Background(), none, observe.EndpointToken, "otp", nil) // no panic
}

// dpopRefusal is a bad DPoP proof's error as fosite returns it (RFC 9449 §5).
var dpopRefusal = (&fosite.RFC6749Error{ErrorField: "invalid_dpop_proof", CodeField: 400}).WithHint("The DPoP proof's jwk header must be a public key.")
