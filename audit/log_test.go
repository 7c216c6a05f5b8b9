package audit_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/go-jose/go-jose/v3/cryptosigner"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/audit"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var kioskTime = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

func fixedClock() time.Time { return kioskTime }

// counter is a deterministic stand-in for crypto/rand in golden tests.
type counter struct{ n byte }

func (c *counter) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.n
		c.n++
	}
	return len(p), nil
}

func newES256(t testing.TB, kid string) (jose.SigningKey, audit.KeyFunc) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	jwk := jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: string(jose.ES256), Use: "sig"}
	set := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk.Public()}}
	return jose.SigningKey{Algorithm: jose.ES256, Key: jwk}, audit.KeySet(set)
}

// approval is what a kiosk clerk's approval of a device grant records.
func approval() audit.Event {
	return audit.Event{
		Type:      audit.EventApproved,
		Grant:     audit.GrantDeviceCode,
		Subject:   "customer-1042",
		Actor:     "clerk-7",
		ClientID:  "utility-tv-app",
		RequestID: "req-8f14",
		Time:      kioskTime.Add(-time.Minute),
		Data:      map[string]any{"proofing": "id_document", "kiosk": "branch-12"},
	}
}

func records(t *testing.T, s audit.Storage) []audit.Record {
	t.Helper()
	recs, err := s.ListAuditRecords(context.Background(), 0, 1000)
	require.NoError(t, err)
	return recs
}

func TestNewLogRejectsUnsafeSetups(t *testing.T) {
	t.Parallel()
	good, _ := newES256(t, "k")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	for _, tc := range []struct {
		name    string
		storage audit.Storage
		key     jose.SigningKey
		opts    audit.Options
	}{
		{name: "no storage", key: good, opts: audit.Options{Issuer: "https://as"}},
		{name: "no issuer", storage: audit.NewMemoryStorage(), key: good},
		{name: "HMAC key", storage: audit.NewMemoryStorage(), opts: audit.Options{Issuer: "https://as"},
			key: jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")}},
		{name: "alg none", storage: audit.NewMemoryStorage(), opts: audit.Options{Issuer: "https://as"},
			key: jose.SigningKey{Algorithm: "none", Key: good.Key}},
		{name: "key does not fit algorithm", storage: audit.NewMemoryStorage(), opts: audit.Options{Issuer: "https://as"},
			key: jose.SigningKey{Algorithm: jose.ES256, Key: rsaKey}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, err := audit.NewLog(tc.storage, tc.key, tc.opts)
			require.Error(t, err)
			require.Nil(t, l)
		})
	}
}

func TestRecordRejectsBadEvents(t *testing.T) {
	t.Parallel()
	key, _ := newES256(t, "k")
	for _, tc := range []struct {
		name  string
		event func(e *audit.Event)
	}{
		{name: "no type", event: func(e *audit.Event) { e.Type = "" }},
		{name: "relative type", event: func(e *audit.Event) { e.Type = "pending/approved" }},
		{name: "data shadows an event field", event: func(e *audit.Event) { e.Data["actor"] = "someone" }},
		{name: "data with an empty key", event: func(e *audit.Event) { e.Data[""] = 1 }},
		{name: "data that is not JSON", event: func(e *audit.Event) { e.Data["callback"] = func() {} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := audit.NewMemoryStorage()
			l, err := audit.NewLog(s, key, audit.Options{Issuer: "https://as"})
			require.NoError(t, err)
			e := approval()
			tc.event(&e)
			require.Error(t, l.Record(context.Background(), e))
			require.Empty(t, records(t, s), "a refused event must not be stored")
		})
	}
}

func TestRecordStopsWhenContextIsDone(t *testing.T) {
	t.Parallel()
	key, _ := newES256(t, "k")
	s := audit.NewMemoryStorage()
	l, err := audit.NewLog(s, key, audit.Options{Issuer: "https://as"})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, l.Record(ctx, approval()), context.Canceled)
	require.Empty(t, records(t, s))
}

func TestRecordThenDecodeRoundTrips(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key, keys := newES256(t, "k")
	s := audit.NewMemoryStorage()
	l, err := audit.NewLog(s, key, audit.Options{Issuer: "https://as", Now: fixedClock})
	require.NoError(t, err)

	withNumber := approval()
	withNumber.Data["attempts"] = 3
	noTime := audit.Event{Type: audit.EventOTPSent, Grant: audit.GrantOTP, Data: map[string]any{"channel": "sms"}}
	require.NoError(t, l.Record(ctx, withNumber))
	require.NoError(t, l.Record(ctx, noTime))

	recs := records(t, s)
	require.Len(t, recs, 2)

	got, err := audit.Decode(recs[0].Token, keys)
	require.NoError(t, err)
	want := approval()
	want.Data["attempts"] = float64(3) // JSON numbers decode as float64
	require.Equal(t, want, got)

	got, err = audit.Decode(recs[1].Token, keys)
	require.NoError(t, err)
	noTime.Time = kioskTime // zero Time means "when recorded"
	require.Equal(t, noTime, got)
}

func TestRecordWithCryptoSigner(t *testing.T) {
	t.Parallel()
	// A key in a KMS or HSM is only a crypto.Signer.
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	s := audit.NewMemoryStorage()
	l, err := audit.NewLog(s,
		jose.SigningKey{Algorithm: jose.ES256, Key: cryptosigner.Opaque(priv)},
		audit.Options{Issuer: "https://as", KeyID: "hsm-1"})
	require.NoError(t, err)
	require.NoError(t, l.Record(context.Background(), approval()))

	set := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &priv.PublicKey, KeyID: "hsm-1"}}}
	rep, err := audit.Verify(context.Background(), s, audit.KeySet(set))
	require.NoError(t, err)
	require.EqualValues(t, 1, rep.Records)

	// The same signature fails for a key set that does not know "hsm-1".
	other := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &priv.PublicKey, KeyID: "hsm-2"}}}
	_, err = audit.Verify(context.Background(), s, audit.KeySet(other))
	var te *audit.TamperError
	require.ErrorAs(t, err, &te)
	require.Equal(t, audit.ReasonBadSignature, te.Reason)
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	key, keys := newES256(t, "k")
	_, strangerKeys := newES256(t, "k")
	s := audit.NewMemoryStorage()
	l, err := audit.NewLog(s, key, audit.Options{Issuer: "https://as"})
	require.NoError(t, err)
	require.NoError(t, l.Record(context.Background(), approval()))
	token := records(t, s)[0].Token

	jws, err := jose.ParseSigned(token)
	require.NoError(t, err)
	parts := strings.Split(token, ".")

	for _, tc := range []struct {
		name  string
		token string
		keys  audit.KeyFunc
	}{
		{name: "empty", token: "", keys: keys},
		{name: "no KeyFunc", token: token, keys: nil},
		{name: "another key under the same kid", token: token, keys: strangerKeys},
		{name: "JSON serialization", token: jws.FullSerialize(), keys: keys},
		{name: "payload swapped", token: parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"x"}`)) + "." + parts[2], keys: keys},
		{name: "signature stripped", token: parts[0] + "." + parts[1] + ".", keys: keys},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := audit.Decode(tc.token, tc.keys)
			require.ErrorIs(t, err, audit.ErrInvalidToken)
		})
	}
}

// TestGoldenClaims pins the wire format of the SETs: header and claims of a
// short kiosk session. Run with -update to rewrite testdata/kiosk.golden.json.
func TestGoldenClaims(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Ed25519 signatures are deterministic, so the whole chain is.
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	s := audit.NewMemoryStorage()
	l, err := audit.NewLog(s, jose.SigningKey{Algorithm: jose.EdDSA, Key: priv}, audit.Options{
		Issuer:   "https://as.example.com",
		Audience: []string{"https://audit.example.com"},
		KeyID:    "audit-2025",
		Now:      fixedClock,
		Rand:     &counter{},
	})
	require.NoError(t, err)

	require.NoError(t, l.Record(ctx, approval()))
	require.NoError(t, l.Record(ctx, audit.Event{
		Type: audit.EventRedeemed, Grant: audit.GrantDeviceCode, Subject: "customer-1042",
		ClientID: "utility-tv-app", RequestID: "req-8f14",
	}))
	require.NoError(t, l.Record(ctx, audit.Event{
		Type: audit.EventOTPLockout, Grant: audit.GrantOTP, ClientID: "hardware-store-kiosk",
		RequestID: "req-77aa", Data: map[string]any{"failed_attempts": 5},
	}))

	type decoded struct {
		Header map[string]any `json:"header"`
		Claims map[string]any `json:"claims"`
	}
	var got []decoded
	for _, r := range records(t, s) {
		var d decoded
		parts := strings.Split(r.Token, ".")
		for i, dst := range []*map[string]any{&d.Header, &d.Claims} {
			raw, err := base64.RawURLEncoding.DecodeString(parts[i])
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(raw, dst))
		}
		got = append(got, d)
	}
	gotJSON, err := json.MarshalIndent(got, "", "  ")
	require.NoError(t, err)
	gotJSON = append(gotJSON, '\n')

	golden := filepath.Join("testdata", "kiosk.golden.json")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(golden, gotJSON, 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test -update to create the golden file")
	require.JSONEq(t, string(want), string(gotJSON))
	require.Equal(t, string(want), string(gotJSON))

	rep, err := audit.Verify(ctx, s, audit.PublicKey(priv.Public()))
	require.NoError(t, err)
	require.EqualValues(t, 3, rep.Records)
}

func TestMulti(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key, keys := newES256(t, "k")
	a, b := audit.NewMemoryStorage(), audit.NewMemoryStorage()
	la, err := audit.NewLog(a, key, audit.Options{Issuer: "https://as"})
	require.NoError(t, err)
	lb, err := audit.NewLog(b, key, audit.Options{Issuer: "https://as"})
	require.NoError(t, err)

	broken := errors.New("export queue full")
	failing := sinkFunc(func(context.Context, audit.Event) error { return broken })

	err = audit.Multi(la, nil, failing, lb).Record(ctx, approval())
	require.ErrorIs(t, err, broken)
	for _, s := range []*audit.MemoryStorage{a, b} {
		rep, err := audit.Verify(ctx, s, keys)
		require.NoError(t, err)
		require.EqualValues(t, 1, rep.Records, "a failing sink must not stop the others")
	}
	require.NoError(t, audit.Multi().Record(ctx, approval()))
}

type sinkFunc func(context.Context, audit.Event) error

func (f sinkFunc) Record(ctx context.Context, e audit.Event) error { return f(ctx, e) }

// FuzzDecode checks that Decode never panics on a mangled token and never
// returns an event other than the one that was signed.
func FuzzDecode(f *testing.F) {
	key, keys := newES256(f, "k")
	s := audit.NewMemoryStorage()
	l, err := audit.NewLog(s, key, audit.Options{Issuer: "https://as", Now: fixedClock})
	require.NoError(f, err)
	require.NoError(f, l.Record(context.Background(), approval()))
	recs, err := s.ListAuditRecords(context.Background(), 0, 1)
	require.NoError(f, err)
	token := recs[0].Token
	want, err := audit.Decode(token, keys)
	require.NoError(f, err)

	f.Add(token)
	f.Add(token[:len(token)-1])
	f.Add(strings.Replace(token, ".", "..", 1))
	f.Add("e30.e30.")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := audit.Decode(s, keys)
		if err != nil {
			require.ErrorIs(t, err, audit.ErrInvalidToken)
			return
		}
		require.Equal(t, want, got)
	})
}
