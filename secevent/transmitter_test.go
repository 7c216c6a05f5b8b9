package secevent_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/outbound"
	"github.com/fosite-contrib/grants/outbox"
	"github.com/fosite-contrib/grants/secevent"
	"github.com/fosite-contrib/grants/storage/memory"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

const issuer = "https://id.example.com"

// clock is a test clock the tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// receiver is a real SET receiver over TLS: it records each push and answers with the next status of
// its script (the last one repeats).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	pushes []push
	script []int
	hits   atomic.Int64
}

type push struct {
	Method, Path, ContentType, Accept, Authorization string
	Body                                             string
}

func newReceiver(t *testing.T, script ...int) *receiver {
	t.Helper()
	rc := &receiver{script: script}
	rc.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := int(rc.hits.Add(1))
		rc.mu.Lock()
		rc.pushes = append(rc.pushes, push{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Accept"), r.Header.Get("Authorization"), string(body)})
		rc.mu.Unlock()
		status := http.StatusAccepted
		if len(rc.script) > 0 {
			status = rc.script[min(n, len(rc.script))-1]
		}
		if status == http.StatusBadRequest {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"err":"invalid_audience","description":"not for us"}`)
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) received() []push {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]push(nil), rc.pushes...)
}

func (rc *receiver) tlsConfig() *tls.Config {
	return rc.Client().Transport.(*http.Transport).TLSClientConfig
}

// fixture is a Transmitter over an outbox, and the worker that delivers it.
type fixture struct {
	store  outbox.Storage
	queue  *outbox.Queue
	worker *outbox.Worker
	clock  *clock
	key    *ecdsa.PrivateKey
}

// newFixture builds a queue and a worker on store whose webhook trusts the receivers' test
// certificates; allowLoopback is the webhook's development switch (the test servers are on loopback).
func newFixture(t *testing.T, store outbox.Storage, allowLoopback bool, receivers ...*receiver) *fixture {
	t.Helper()
	sealer, err := outbox.NewSealer([]byte("fosite's global secret, 32 bytes"))
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	c := newClock()
	var roots *tls.Config
	if len(receivers) > 0 {
		roots = receivers[0].tlsConfig().Clone()
		for _, rc := range receivers[1:] {
			roots.RootCAs.AddCert(rc.Certificate())
		}
	}
	return &fixture{
		store: store,
		queue: &outbox.Queue{Storage: store, Sealer: sealer, Now: c.Now},
		worker: &outbox.Worker{
			Storage: store, Sealer: sealer, Now: c.Now,
			Backoff: outbox.Backoff{Base: time.Minute, Rand: func() float64 { return 1 }}, // retries exactly 1 min, 2 min, ... later
			Deliverer: outbox.NewWebhook(outbox.WebhookConfig{
				AllowLoopback: allowLoopback, TLSConfig: roots, Timeout: 10 * time.Second, Now: c.Now,
				LookupAddrs: func(context.Context, string) ([]netip.Addr, error) {
					return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil // every name is this machine
				},
			}),
		},
		clock: c,
		key:   key,
	}
}

func (f *fixture) signingKey() jose.SigningKey {
	return jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: f.key, KeyID: "set-key-1"}}
}

func (f *fixture) transmitter(t *testing.T, receivers ...secevent.Receiver) *secevent.Transmitter {
	t.Helper()
	tr, err := secevent.New(secevent.Options{
		Issuer: issuer, Key: f.signingKey(), Receivers: receivers, Queue: f.queue, AllowLoopback: true, Now: f.clock.Now,
	})
	require.NoError(t, err)
	return tr
}

// drain runs the worker once and returns the number of attempts it made.
func (f *fixture) drain(t *testing.T) int {
	t.Helper()
	n, err := f.worker.DrainOnce(context.Background())
	require.NoError(t, err)
	return n
}

func remediation() pending.Remediation {
	return pending.Remediation{
		Kind:          pending.KindDeviceCode,
		RequestID:     "0c6b8e1e-6d0f-4b8a-9a51-2f7f5c1e9d42",
		ClientID:      "tv-app",
		Subject:       "alice",
		Reason:        pending.ReasonBurnedCode,
		By:            "staff-7",
		Time:          time.Date(2026, 12, 3, 9, 58, 30, 0, time.UTC),
		TokensRevoked: true,
	}
}

// verify checks a SET's signature with the public key, its header, and returns its claims as JSON.
func verify(t *testing.T, token string, pub *ecdsa.PublicKey) map[string]any {
	t.Helper()
	jws, err := jose.ParseSigned(token)
	require.NoError(t, err)
	require.Len(t, jws.Signatures, 1)
	h := jws.Signatures[0].Protected
	require.Equal(t, "ES256", h.Algorithm)
	require.Equal(t, "set-key-1", h.KeyID)
	require.Equal(t, "secevent+jwt", h.ExtraHeaders[jose.HeaderType], "RFC 8417 section 2.3: explicitly typed")
	payload, err := jws.Verify(pub)
	require.NoError(t, err, "signed by the server's key")
	var claims map[string]any
	require.NoError(t, json.Unmarshal(payload, &claims))
	return claims
}

// TestAnnounceDeliversASignedSET: each receiver gets one SET, pushed as RFC 8935 says, signed by the
// server's key, with every claim RFC 8417 asks for and nothing else.
func TestAnnounceDeliversASignedSET(t *testing.T) {
	t.Parallel()
	rs1, rs2 := newReceiver(t), newReceiver(t)
	f := newFixture(t, memory.New(), true, rs1, rs2)
	tr := f.transmitter(t,
		secevent.Receiver{URL: rs1.URL + "/events", Audience: "https://rs1.example.com", BearerToken: "rs1-push-credential"},
		secevent.Receiver{URL: rs2.URL + "/set", Audience: "https://rs2.example.com"},
	)
	require.NoError(t, tr.Announce(context.Background(), remediation()))
	require.Zero(t, rs1.hits.Load()+rs2.hits.Load(), "Announce only queues")

	require.Equal(t, 2, f.drain(t))
	jtis := map[string]bool{}
	for _, tc := range []struct {
		rc                   *receiver
		path, aud, authorize string
	}{
		{rs1, "/events", "https://rs1.example.com", "Bearer rs1-push-credential"},
		{rs2, "/set", "https://rs2.example.com", ""},
	} {
		got := tc.rc.received()
		require.Len(t, got, 1)
		p := got[0]
		require.Equal(t, http.MethodPost, p.Method)
		require.Equal(t, tc.path, p.Path)
		require.Equal(t, "application/secevent+jwt", p.ContentType)
		require.Equal(t, "application/json", p.Accept)
		require.Equal(t, tc.authorize, p.Authorization)

		claims := verify(t, p.Body, &f.key.PublicKey)
		require.Equal(t, issuer, claims["iss"])
		require.Equal(t, tc.aud, claims["aud"])
		require.EqualValues(t, f.clock.Now().Unix(), claims["iat"])
		require.EqualValues(t, remediation().Time.Unix(), claims["toe"])
		jti, _ := claims["jti"].(string)
		require.GreaterOrEqual(t, len(jti), 22, "at least 128 random bits")
		require.False(t, jtis[jti], "jti is unique")
		jtis[jti] = true
		require.Equal(t, map[string]any{"format": "iss_sub", "iss": issuer, "sub": "alice"}, claims["sub_id"])
		require.NotContains(t, claims, "sub", "no sub claim: a SET is not an ID token")
		require.Equal(t, map[string]any{
			secevent.EventGrantRevoked: map[string]any{
				"request_id":     "0c6b8e1e-6d0f-4b8a-9a51-2f7f5c1e9d42",
				"client_id":      "tv-app",
				"kind":           "device_code",
				"reason":         "burned_code",
				"tokens_revoked": true,
			},
		}, claims["events"])
	}

	require.Zero(t, f.drain(t), "delivered once, never again")
	f.clock.Add(24 * time.Hour)
	require.Zero(t, f.drain(t))
	require.EqualValues(t, 1, rs1.hits.Load())
	require.EqualValues(t, 1, rs2.hits.Load())
}

// TestNothingSecretInTheSET: the claims are exactly the documented ones — no token, code, handle or
// receiver credential — and the receiver's credential is sealed at rest.
func TestNothingSecretInTheSET(t *testing.T) {
	t.Parallel()
	rs := newReceiver(t)
	store := record(memory.New())
	f := newFixture(t, store, true, rs)
	tr := f.transmitter(t, secevent.Receiver{URL: rs.URL, Audience: "rs", BearerToken: "push-credential-3f9a"})
	r := remediation()
	r.Reason = pending.ReasonReported
	require.NoError(t, tr.Announce(context.Background(), r))
	require.Equal(t, 1, f.drain(t))

	body := rs.received()[0].Body
	claims := verify(t, body, &f.key.PublicKey)
	keys := func(m map[string]any) []string {
		var k []string
		for name := range m {
			k = append(k, name)
		}
		return k
	}
	require.ElementsMatch(t, []string{"iss", "jti", "iat", "aud", "toe", "sub_id", "events"}, keys(claims))
	event := claims["events"].(map[string]any)[secevent.EventGrantRevoked].(map[string]any)
	require.ElementsMatch(t, []string{"request_id", "client_id", "kind", "reason", "tokens_revoked"}, keys(event))
	raw, err := json.Marshal(claims)
	require.NoError(t, err)
	for _, secret := range []string{`"code":`, `"device_code":`, `"user_code":`, `"auth_req_id":`, `"access_token":`,
		`"refresh_token":`, `"id_token":`, `"token":`, "push-credential", "staff-7"} {
		require.NotContains(t, string(raw), secret)
	}
	require.NotContains(t, body, "push-credential")

	// At rest, only the ID, kind and target are in the clear; the credential and the SET are sealed.
	rec := onlyRecord(t, store)
	require.Equal(t, outbox.KindSecurityEvent, rec.Kind)
	require.Equal(t, rs.URL, rec.Target)
	require.Equal(t, "secevent:"+r.RequestID+":", rec.ID[:len("secevent:"+r.RequestID+":")])
	require.NotContains(t, string(rec.Sealed), "push-credential")
	require.NotContains(t, string(rec.Sealed), "eyJ")
}

// TestReceiverAnswers drives the outbox worker with the test clock: 202 is delivered once, a 400
// refusal is never retried, a 503 is retried after the backoff and then delivered.
func TestReceiverAnswers(t *testing.T) {
	t.Parallel()
	t.Run("202 Accepted: delivered once", func(t *testing.T) {
		t.Parallel()
		rs := newReceiver(t, http.StatusAccepted)
		f := newFixture(t, memory.New(), true, rs)
		require.NoError(t, f.transmitter(t, secevent.Receiver{URL: rs.URL, Audience: "rs"}).Announce(context.Background(), remediation()))
		require.Equal(t, 1, f.drain(t))
		f.clock.Add(time.Hour)
		require.Zero(t, f.drain(t))
		require.EqualValues(t, 1, rs.hits.Load())
	})
	t.Run("400 refusal: failed for good, the receiver's code kept", func(t *testing.T) {
		t.Parallel()
		rs := newReceiver(t, http.StatusBadRequest)
		store := record(memory.New())
		f := newFixture(t, store, true, rs)
		require.NoError(t, f.transmitter(t, secevent.Receiver{URL: rs.URL, Audience: "rs"}).Announce(context.Background(), remediation()))
		require.Equal(t, 1, f.drain(t))
		for range 5 {
			f.clock.Add(time.Hour)
			require.Zero(t, f.drain(t))
		}
		require.EqualValues(t, 1, rs.hits.Load(), "not retried")
		rec := onlyRecord(t, store)
		require.Equal(t, outbox.StateFailed, rec.State)
		require.Contains(t, rec.LastError, "HTTP 400: invalid_audience: not for us")
	})
	t.Run("503: retried after the backoff, then delivered", func(t *testing.T) {
		t.Parallel()
		rs := newReceiver(t, http.StatusServiceUnavailable, http.StatusServiceUnavailable, http.StatusAccepted)
		store := record(memory.New())
		f := newFixture(t, store, true, rs)
		require.NoError(t, f.transmitter(t, secevent.Receiver{URL: rs.URL, Audience: "rs"}).Announce(context.Background(), remediation()))
		require.Equal(t, 1, f.drain(t))
		rec := onlyRecord(t, store)
		require.Equal(t, outbox.StatePending, rec.State)
		require.Equal(t, f.clock.Now().Add(time.Minute), rec.NextAttemptAt)
		require.Zero(t, f.drain(t), "not before the backoff")
		f.clock.Add(time.Minute)
		require.Equal(t, 1, f.drain(t), "second attempt, 503 again")
		f.clock.Add(time.Minute)
		require.Zero(t, f.drain(t), "the backoff doubled")
		f.clock.Add(time.Minute)
		require.Equal(t, 1, f.drain(t))
		require.Equal(t, outbox.StateDelivered, onlyRecord(t, store).State)
		require.EqualValues(t, 3, rs.hits.Load())
		// The same SET each time: a receiver deduplicates by jti (RFC 8935 section 4).
		got := rs.received()
		require.Equal(t, got[0].Body, got[2].Body)
	})
}

// recorder is a real outbox store that also remembers what was enqueued, as stored.
type recorder struct {
	outbox.Storage
	mu       sync.Mutex
	enqueued []outbox.Record
}

func record(s outbox.Storage) *recorder { return &recorder{Storage: s} }

func (r *recorder) EnqueueOutbox(ctx context.Context, rec outbox.Record) error {
	err := r.Storage.EnqueueOutbox(ctx, rec)
	if err == nil {
		r.mu.Lock()
		r.enqueued = append(r.enqueued, rec)
		r.mu.Unlock()
	}
	return err
}

func (r *recorder) records() []outbox.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]outbox.Record(nil), r.enqueued...)
}

// onlyRecord returns the current state of the one message the test enqueued.
func onlyRecord(t *testing.T, store *recorder) outbox.Record {
	t.Helper()
	recs := store.records()
	require.Len(t, recs, 1)
	rec, err := store.GetOutbox(context.Background(), recs[0].ID)
	require.NoError(t, err)
	return rec
}

// TestNewRefuses: a Transmitter that could not work, or would send SETs where they must not go, is
// refused at construction with a clear error.
func TestNewRefuses(t *testing.T) {
	t.Parallel()
	f := newFixture(t, memory.New(), true)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	good := secevent.Receiver{URL: "https://rs.example.com/events", Audience: "https://rs.example.com"}
	base := func() secevent.Options {
		return secevent.Options{Issuer: issuer, Key: f.signingKey(), Receivers: []secevent.Receiver{good}, Queue: f.queue}
	}
	many := make([]secevent.Receiver, secevent.MaxReceivers+1)
	for i := range many {
		many[i] = secevent.Receiver{URL: "https://rs.example.com/events", Audience: "rs-" + string(rune('a'+i%26)) + string(rune('a'+i/26))}
	}
	for _, tc := range []struct {
		name      string
		change    func(o *secevent.Options)
		message   string
		forbidden bool
	}{
		{"no issuer", func(o *secevent.Options) { o.Issuer = "" }, "Issuer", false},
		{"no queue", func(o *secevent.Options) { o.Queue = nil }, "Queue", false},
		{"HS256", func(o *secevent.Options) {
			o.Key = jose.SigningKey{Algorithm: jose.HS256, Key: []byte("a shared secret of 32 bytes!!!!!")}
		}, `"HS256" is not allowed`, false},
		{"none", func(o *secevent.Options) { o.Key = jose.SigningKey{Algorithm: "none", Key: f.key} }, `"none" is not allowed`, false},
		{"no algorithm", func(o *secevent.Options) { o.Key = jose.SigningKey{Key: f.key} }, `"" is not allowed`, false},
		{"a key of another algorithm", func(o *secevent.Options) { o.Key = jose.SigningKey{Algorithm: jose.ES256, Key: rsaKey} }, "cannot sign with ES256", false},
		{"a public key", func(o *secevent.Options) { o.Key = jose.SigningKey{Algorithm: jose.ES256, Key: &f.key.PublicKey} }, "cannot sign with ES256", false},
		{"no receivers", func(o *secevent.Options) { o.Receivers = nil }, "1 to 32 receivers", false},
		{"too many receivers", func(o *secevent.Options) { o.Receivers = many }, "got 33", false},
		{"plain http", func(o *secevent.Options) {
			o.Receivers = []secevent.Receiver{{URL: "http://rs.example.com/events", Audience: "rs"}}
		}, "receiver 0", true},
		{"loopback outside development", func(o *secevent.Options) {
			o.Receivers = []secevent.Receiver{{URL: "https://127.0.0.1:8443/events", Audience: "rs"}}
		}, "receiver 0", true},
		{"localhost outside development", func(o *secevent.Options) {
			o.Receivers = []secevent.Receiver{good, {URL: "https://localhost/events", Audience: "rs"}}
		}, "receiver 1", true},
		{"cloud metadata", func(o *secevent.Options) {
			o.Receivers = []secevent.Receiver{{URL: "https://169.254.169.254/", Audience: "rs"}}
		}, "receiver 0", true},
		{"private address", func(o *secevent.Options) {
			o.Receivers = []secevent.Receiver{{URL: "https://10.0.0.7/events", Audience: "rs"}}
		}, "receiver 0", true},
		{"user info", func(o *secevent.Options) {
			o.Receivers = []secevent.Receiver{{URL: "https://user:pw@rs.example.com/", Audience: "rs"}}
		}, "receiver 0", true},
		{"no audience", func(o *secevent.Options) { o.Receivers = []secevent.Receiver{{URL: good.URL}} }, "Audience is required", false},
		{"a bearer token with a line break", func(o *secevent.Options) {
			o.Receivers = []secevent.Receiver{{URL: good.URL, Audience: "rs", BearerToken: "abc\r\nX-Injected: 1"}}
		}, "b64token", false},
		{"a bearer token with a space", func(o *secevent.Options) {
			o.Receivers = []secevent.Receiver{{URL: good.URL, Audience: "rs", BearerToken: "two words"}}
		}, "b64token", false},
		{"the same receiver twice", func(o *secevent.Options) { o.Receivers = []secevent.Receiver{good, good} }, "configured twice", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := base()
			tc.change(&o)
			tr, err := secevent.New(o)
			require.Nil(t, tr)
			require.ErrorContains(t, err, tc.message)
			if tc.forbidden {
				require.ErrorIs(t, err, outbound.ErrForbidden)
			}
		})
	}
	t.Run("every asymmetric algorithm", func(t *testing.T) {
		t.Parallel()
		for _, key := range []jose.SigningKey{
			f.signingKey(),
			{Algorithm: jose.RS256, Key: rsaKey},
			{Algorithm: jose.PS256, Key: rsaKey},
			{Algorithm: jose.EdDSA, Key: edKey},
		} {
			o := base()
			o.Key = key
			_, err := secevent.New(o)
			require.NoError(t, err, key.Algorithm)
		}
	})
	t.Run("loopback in development", func(t *testing.T) {
		t.Parallel()
		o := base()
		o.AllowLoopback = true
		o.Receivers = []secevent.Receiver{{URL: "http://127.0.0.1:9999/events", Audience: "rs", BearerToken: "abc.DEF-_~+/=="}}
		_, err := secevent.New(o)
		require.NoError(t, err)
	})
}

// TestLoopbackIsRefusedAtDelivery: a SET queued for a loopback receiver (accepted in development, or a
// name that resolves to loopback, which construction cannot see) is never sent by a webhook that does
// not allow loopback, and is not retried.
func TestLoopbackIsRefusedAtDelivery(t *testing.T) {
	t.Parallel()
	rs := newReceiver(t)
	_, port, _ := strings.Cut(strings.TrimPrefix(rs.URL, "https://"), ":")
	for _, tc := range []struct{ name, url string }{
		{"an IP literal", rs.URL + "/events"},
		{"a name that resolves to 127.0.0.1", "https://rs.example.com:" + port + "/events"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store := record(memory.New())
			f := newFixture(t, store, false, rs) // production webhook: no loopback
			require.NoError(t, f.transmitter(t, secevent.Receiver{URL: tc.url, Audience: "rs"}).Announce(context.Background(), remediation()))
			require.Equal(t, 1, f.drain(t))
			f.clock.Add(time.Hour)
			require.Zero(t, f.drain(t))
			rec := onlyRecord(t, store)
			require.Equal(t, outbox.StateFailed, rec.State)
			require.Contains(t, rec.LastError, "forbidden")
		})
	}
	require.Zero(t, rs.hits.Load(), "nothing reached the loopback receiver")
}

// TestAnnounceJoinsTheTransaction: with the SQL store (SQLite), the SETs are queued in the caller's
// transaction: rolled back, nothing is ever sent; committed, every receiver gets its SET.
func TestAnnounceJoinsTheTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "grants.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	rs1, rs2 := newReceiver(t), newReceiver(t)
	f := newFixture(t, store, true, rs1, rs2)
	tr := f.transmitter(t, secevent.Receiver{URL: rs1.URL, Audience: "rs1"}, secevent.Receiver{URL: rs2.URL, Audience: "rs2"})

	rolledBack := remediation()
	txCtx, err := store.BeginTX(ctx)
	require.NoError(t, err)
	require.NoError(t, tr.Announce(txCtx, rolledBack))
	require.NoError(t, store.Rollback(txCtx))
	require.Zero(t, f.drain(t), "rolled back: nothing queued")

	committed := remediation()
	committed.RequestID = "a4f0a7a2-5a0e-4b8e-8a55-5f0b0f3f9c11"
	txCtx, err = store.BeginTX(ctx)
	require.NoError(t, err)
	require.NoError(t, tr.Announce(txCtx, committed))
	require.NoError(t, store.Commit(txCtx))
	require.Equal(t, 2, f.drain(t))
	for _, rc := range []*receiver{rs1, rs2} {
		got := rc.received()
		require.Len(t, got, 1)
		claims := verify(t, got[0].Body, &f.key.PublicKey)
		event := claims["events"].(map[string]any)[secevent.EventGrantRevoked].(map[string]any)
		require.Equal(t, committed.RequestID, event["request_id"], "only the committed grant was announced")
	}

	// Announcing the same grant again (a retried request) queues nothing new.
	require.NoError(t, tr.Announce(ctx, committed))
	f.clock.Add(time.Hour)
	require.Zero(t, f.drain(t))
	require.EqualValues(t, 1, rs1.hits.Load())
}

func TestAnnounceRefuses(t *testing.T) {
	t.Parallel()
	rs := newReceiver(t)
	f := newFixture(t, memory.New(), true, rs)
	tr := f.transmitter(t, secevent.Receiver{URL: rs.URL, Audience: "rs"})
	for _, tc := range []struct {
		name    string
		change  func(r *pending.Remediation)
		message string
	}{
		{"no request ID", func(r *pending.Remediation) { r.RequestID = "" }, "request ID"},
		{"a request ID too long for a message ID", func(r *pending.Remediation) { r.RequestID = strings.Repeat("x", 201) }, "request ID"},
		{"no client", func(r *pending.Remediation) { r.ClientID = "" }, "client ID"},
		{"no reason", func(r *pending.Remediation) { r.Reason = "" }, "reason"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := remediation()
			tc.change(&r)
			require.ErrorContains(t, tr.Announce(context.Background(), r), tc.message)
		})
	}
	require.Zero(t, f.drain(t), "nothing queued")
}

// TestAnnounceWithoutSubjectOrTime: a grant ended before anyone approved it has no subject (no
// sub_id), and a remediation without a time is dated now.
func TestAnnounceWithoutSubjectOrTime(t *testing.T) {
	t.Parallel()
	rs := newReceiver(t)
	f := newFixture(t, memory.New(), true, rs)
	r := remediation()
	r.Subject, r.Time, r.TokensRevoked, r.Kind = "", time.Time{}, false, pending.KindCIBA
	require.NoError(t, f.transmitter(t, secevent.Receiver{URL: rs.URL, Audience: "rs"}).Announce(context.Background(), r))
	require.Equal(t, 1, f.drain(t))
	claims := verify(t, rs.received()[0].Body, &f.key.PublicKey)
	require.NotContains(t, claims, "sub_id")
	require.EqualValues(t, f.clock.Now().Unix(), claims["toe"])
	event := claims["events"].(map[string]any)[secevent.EventGrantRevoked].(map[string]any)
	require.Equal(t, false, event["tokens_revoked"])
	require.Equal(t, "ciba", event["kind"])
}

// TestConcurrentAnnouncements: one Transmitter announces from many goroutines (run with -race); every
// grant reaches the receiver once.
func TestConcurrentAnnouncements(t *testing.T) {
	t.Parallel()
	rs := newReceiver(t)
	f := newFixture(t, memory.New(), true, rs)
	tr := f.transmitter(t, secevent.Receiver{URL: rs.URL, Audience: "rs"})
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := remediation()
			r.RequestID = "req-" + strings.Repeat("x", i%7) + string(rune('A'+i))
			if err := tr.Announce(context.Background(), r); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	total := 0
	for {
		n := f.drain(t)
		if n == 0 {
			break
		}
		total += n
	}
	require.Equal(t, n, total)
	seen := map[string]bool{}
	for _, p := range rs.received() {
		claims := verify(t, p.Body, &f.key.PublicKey)
		id := claims["events"].(map[string]any)[secevent.EventGrantRevoked].(map[string]any)["request_id"].(string)
		require.False(t, seen[id])
		seen[id] = true
	}
	require.Len(t, seen, n)
}

// BenchmarkAnnounce measures one announcement to one receiver: sign a SET (ES256) and queue it
// (memory store), what the transaction that ends a grant pays.
//
//	go test -run x -bench Announce -benchmem ./secevent/
func BenchmarkAnnounce(b *testing.B) {
	store := memory.New()
	sealer, err := outbox.NewSealer([]byte("fosite's global secret, 32 bytes"))
	require.NoError(b, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(b, err)
	tr, err := secevent.New(secevent.Options{
		Issuer: issuer, Key: jose.SigningKey{Algorithm: jose.ES256, Key: key}, Queue: &outbox.Queue{Storage: store, Sealer: sealer},
		Receivers: []secevent.Receiver{{URL: "https://rs.example.com/events", Audience: "rs", BearerToken: "push-credential"}},
	})
	require.NoError(b, err)
	r := remediation()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.RequestID = "req-" + strconv.Itoa(i)
		if err := tr.Announce(context.Background(), r); err != nil {
			b.Fatal(err)
		}
	}
}
