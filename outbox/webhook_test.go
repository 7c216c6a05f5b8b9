package outbox_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/outbox"
)

// receiver is a real HTTP(S) endpoint that answers with handler and records what it received.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []received
	hits     atomic.Int64
	got      chan received
}

type received struct {
	Method, Path, Authorization, ContentType string
	Body                                     string
}

func newReceiver(t *testing.T, tlsOn bool, handler http.HandlerFunc) *receiver {
	t.Helper()
	rc := &receiver{got: make(chan received, 100)}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec := received{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(body)}
		rc.mu.Lock()
		rc.requests = append(rc.requests, rec)
		rc.mu.Unlock()
		rc.hits.Add(1)
		if handler != nil {
			handler(w, r)
		} else {
			w.WriteHeader(http.StatusNoContent)
		}
		rc.got <- rec
	})
	if tlsOn {
		rc.Server = httptest.NewTLSServer(h)
	} else {
		rc.Server = httptest.NewServer(h)
	}
	t.Cleanup(rc.Close)
	return rc
}

// tlsConfig trusts the test server's certificate.
func (rc *receiver) tlsConfig() *tls.Config {
	return rc.Client().Transport.(*http.Transport).TLSClientConfig
}

func (rc *receiver) webhook(allowLoopback bool) *outbox.Webhook {
	return outbox.NewWebhook(outbox.WebhookConfig{AllowLoopback: allowLoopback, TLSConfig: rc.tlsConfig(), Timeout: 5 * time.Second})
}

func status(code int, body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

func ping(id, target string) outbox.Message {
	return outbox.WebhookMessage(id, outbox.KindCIBAPing, target, "client-notification-token-"+id, []byte(`{"auth_req_id":"`+id+`"}`))
}

// TestWebhookAnswers sends one real HTTPS request per case and checks how the answer is judged
// (OpenID CIBA Core §10.2: the client answers 204; the conformance suite requires no retry after 401).
func TestWebhookAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		handler    http.HandlerFunc
		ok         bool
		retryable  bool
		status     int
		retryAfter time.Duration
	}{
		{"204 No Content", nil, true, false, 204, 0},
		{"200 with a body, ignored", status(200, `{"ignored":true}`), true, false, 200, 0},
		{"202 Accepted", status(202, ""), true, false, 202, 0},
		{"301 is not followed and not retried", status(301, "", "Location", "https://elsewhere.example/"), false, false, 301, 0},
		{"307 is not followed and not retried", status(307, "", "Location", "/again"), false, false, 307, 0},
		{"400 is permanent", status(400, `{"error":"invalid_request"}`), false, false, 400, 0},
		{"401 is permanent", status(401, ""), false, false, 401, 0},
		{"403 is permanent", status(403, ""), false, false, 403, 0},
		{"404 is permanent", status(404, ""), false, false, 404, 0},
		{"408 is retried", status(408, ""), false, true, 408, 0},
		{"429 is retried after Retry-After", status(429, "", "Retry-After", "120"), false, true, 429, 2 * time.Minute},
		{"500 is retried", status(500, "boom"), false, true, 500, 0},
		{"503 is retried after Retry-After, capped", status(503, "", "Retry-After", "999999"), false, true, 503, time.Hour},
		{"a large answer is cut short", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(200)
			_, _ = w.Write(make([]byte, 4<<20))
		}, true, false, 200, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, true, tc.handler)
			res, err := rc.webhook(true).Deliver(context.Background(), ping("p1", rc.URL+"/cb"))
			require.Equal(t, tc.status, res.StatusCode)
			require.Equal(t, tc.retryAfter, res.RetryAfter)
			require.EqualValues(t, 1, rc.hits.Load(), "exactly one request, no redirect followed")
			got := <-rc.got
			require.Equal(t, http.MethodPost, got.Method)
			require.Equal(t, "/cb", got.Path)
			require.Equal(t, "Bearer client-notification-token-p1", got.Authorization)
			require.Equal(t, "application/json", got.ContentType)
			require.JSONEq(t, `{"auth_req_id":"p1"}`, got.Body)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Equal(t, tc.retryable, outbox.Retryable(err))
			require.NotContains(t, err.Error(), "client-notification-token", "errors never carry the token")
			require.NotContains(t, err.Error(), "/cb", "errors name the host only")
		})
	}
}

func TestWebhookRedirectTargetIsNeverContacted(t *testing.T) {
	t.Parallel()
	elsewhere := newReceiver(t, true, nil)
	rc := newReceiver(t, true, status(302, "", "Location", elsewhere.URL+"/stolen"))
	_, err := rc.webhook(true).Deliver(context.Background(), ping("p", rc.URL))
	require.ErrorIs(t, err, outbox.ErrPermanent)
	require.Zero(t, elsewhere.hits.Load())
}

func TestWebhookNetworkErrorIsRetried(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, true, nil)
	target := rc.URL
	rc.Close() // nothing listens there any more
	res, err := rc.webhook(true).Deliver(context.Background(), ping("p", target))
	require.Error(t, err)
	require.True(t, outbox.Retryable(err))
	require.Zero(t, res.StatusCode)
}

func TestWebhookLoopbackNeedsPermission(t *testing.T) {
	t.Parallel()
	plain := newReceiver(t, false, nil)
	secure := newReceiver(t, true, nil)
	for _, tc := range []struct {
		name  string
		rc    *receiver
		allow bool
		ok    bool
	}{
		{"http to loopback refused", plain, false, false},
		{"http to loopback allowed in dev mode", plain, true, true},
		{"https to loopback refused", secure, false, false},
		{"https to loopback allowed in dev mode", secure, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.rc.hits.Load()
			_, err := tc.rc.webhook(tc.allow).Deliver(context.Background(), ping("p", tc.rc.URL))
			if tc.ok {
				require.NoError(t, err)
				require.Equal(t, before+1, tc.rc.hits.Load())
				<-tc.rc.got
				return
			}
			require.ErrorIs(t, err, outbox.ErrForbiddenTarget)
			require.False(t, outbox.Retryable(err))
			require.Equal(t, before, tc.rc.hits.Load())
		})
	}
}

// TestWebhookChecksResolvedAddresses maps names to addresses with the resolver hook: names that
// resolve to forbidden addresses are refused before any connection is attempted.
func TestWebhookChecksResolvedAddresses(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, true, nil) // listens on 127.0.0.1
	_, port, _ := strings.Cut(strings.TrimPrefix(rc.URL, "https://"), ":")
	hosts := map[string][]string{
		"evil.test":     {"10.0.0.1"},
		"metadata.test": {"169.254.169.254"},
		"mixed.test":    {"127.0.0.1", "192.168.0.10"},
		"v6.test":       {"fd12::1"},
		"mapped.test":   {"::ffff:10.0.0.1"},
		"nowhere.test":  {"0.0.0.0"},
		"good.test":     {"127.0.0.1"},
	}
	var lookups atomic.Int64
	w := outbox.NewWebhook(outbox.WebhookConfig{
		AllowLoopback: true, // so that good.test reaches the test server; private stays refused
		TLSConfig:     &tls.Config{RootCAs: rc.tlsConfig().RootCAs, ServerName: "example.com"},
		LookupAddrs: func(_ context.Context, host string) ([]netip.Addr, error) {
			lookups.Add(1)
			var out []netip.Addr
			for _, a := range hosts[host] {
				out = append(out, netip.MustParseAddr(a))
			}
			if out == nil {
				return nil, errors.New("no such host")
			}
			return out, nil
		},
	})
	for _, host := range []string{"evil.test", "metadata.test", "mixed.test", "v6.test", "mapped.test", "nowhere.test"} {
		t.Run(host, func(t *testing.T) {
			_, err := w.Deliver(context.Background(), ping("p", "https://"+host+":"+port+"/cb"))
			require.ErrorIs(t, err, outbox.ErrForbiddenTarget)
			require.False(t, outbox.Retryable(err), "a forbidden address is not retried")
		})
	}
	require.Zero(t, rc.hits.Load(), "no forbidden name reached a server")

	// The same webhook reaches an allowed address (the test certificate is for example.com).
	_, err := w.Deliver(context.Background(), ping("p", "https://good.test:"+port+"/cb"))
	require.NoError(t, err)
	require.EqualValues(t, 1, rc.hits.Load())
	require.Positive(t, lookups.Load())

	_, err = w.Deliver(context.Background(), ping("p", "https://unknown.test:"+port+"/cb"))
	require.Error(t, err)
	require.True(t, outbox.Retryable(err), "a resolution failure may be temporary")
}

func TestWebhookHonoursContext(t *testing.T) {
	t.Parallel()
	release, started := make(chan struct{}), make(chan struct{}, 1)
	rc := newReceiver(t, true, func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := rc.webhook(true).Deliver(ctx, ping("p", rc.URL))
		done <- err
	}()
	<-started
	cancel()
	err := <-done
	require.Error(t, err)
	require.True(t, outbox.Retryable(err), "a cancelled attempt is retried later")
}

func TestWebhookRetryAfterDate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, value string
		want        time.Duration
	}{
		{"date in 90 seconds", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"date in the past", now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"date far ahead, capped", now.Add(48 * time.Hour).Format(http.TimeFormat), time.Hour},
		{"negative seconds", "-5", 0},
		{"garbage", "soon", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, true, status(503, "", "Retry-After", tc.value))
			w := outbox.NewWebhook(outbox.WebhookConfig{AllowLoopback: true, TLSConfig: rc.tlsConfig(), Now: func() time.Time { return now }})
			res, err := w.Deliver(context.Background(), ping("p", rc.URL))
			require.True(t, outbox.Retryable(err))
			require.Equal(t, tc.want, res.RetryAfter)
		})
	}
}
