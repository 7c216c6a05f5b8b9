package outbox_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/outbox"
)

var (
	secret  = []byte("the global secret, 32 bytes long")
	secret2 = []byte("the next global secret, 32 bytes")
)

func mustSealer(t testing.TB, s []byte, rotated ...[]byte) *outbox.Sealer {
	t.Helper()
	sealer, err := outbox.NewSealer(s, rotated...)
	require.NoError(t, err)
	return sealer
}

func TestSealerRoundTrip(t *testing.T) {
	t.Parallel()
	s := mustSealer(t, secret)
	m := outbox.WebhookMessage("id-1", outbox.KindCIBAPush, "https://client.example/cb", "tok", []byte(`{"access_token":"at"}`))
	r, err := s.Seal(m)
	require.NoError(t, err)
	require.Equal(t, "id-1", r.ID)
	require.Equal(t, outbox.KindCIBAPush, r.Kind)
	require.Equal(t, "https://client.example/cb", r.Target)
	require.False(t, bytes.Contains(r.Sealed, []byte("Bearer tok")))
	require.False(t, bytes.Contains(r.Sealed, []byte("access_token")))

	again, err := s.Seal(m)
	require.NoError(t, err)
	require.NotEqual(t, r.Sealed, again.Sealed, "a fresh nonce per seal")

	got, err := s.Open(r)
	require.NoError(t, err)
	require.Equal(t, m.Header, got.Header)
	require.Equal(t, m.Body, got.Body)
}

func TestSealerRefusesTampering(t *testing.T) {
	t.Parallel()
	s := mustSealer(t, secret)
	r, err := s.Seal(outbox.WebhookMessage("id-1", outbox.KindCIBAPing, "https://client.example/cb", "tok", []byte(`{}`)))
	require.NoError(t, err)

	for name, mutate := range map[string]func(*outbox.Record){
		"another ID":     func(r *outbox.Record) { r.ID = "id-2" },
		"another kind":   func(r *outbox.Record) { r.Kind = outbox.KindCIBAPush },
		"another target": func(r *outbox.Record) { r.Target = "https://attacker.example/cb" },
		"a flipped bit":  func(r *outbox.Record) { r.Sealed[len(r.Sealed)-1] ^= 1 },
		"truncated":      func(r *outbox.Record) { r.Sealed = r.Sealed[:10] },
		"empty":          func(r *outbox.Record) { r.Sealed = nil },
		"unknown format": func(r *outbox.Record) { r.Sealed[0] = 9 },
	} {
		t.Run(name, func(t *testing.T) {
			c := r
			c.Sealed = bytes.Clone(r.Sealed)
			mutate(&c)
			_, err := s.Open(c)
			require.ErrorIs(t, err, outbox.ErrUnseal)
		})
	}
	t.Run("another key", func(t *testing.T) {
		_, err := mustSealer(t, secret2).Open(r)
		require.ErrorIs(t, err, outbox.ErrUnseal)
	})
}

func TestSealerRotation(t *testing.T) {
	t.Parallel()
	old := mustSealer(t, secret)
	r, err := old.Seal(outbox.Message{ID: "id", Kind: "k", Target: "https://a.example/", Body: []byte("before rotation")})
	require.NoError(t, err)
	rotated := mustSealer(t, secret2, secret)
	got, err := rotated.Open(r)
	require.NoError(t, err, "messages sealed before the rotation can be delivered")
	require.Equal(t, "before rotation", string(got.Body))

	r2, err := rotated.Seal(outbox.Message{ID: "id2", Kind: "k", Target: "https://a.example/"})
	require.NoError(t, err)
	_, err = old.Open(r2)
	require.ErrorIs(t, err, outbox.ErrUnseal, "new messages use the new secret")
}

func TestNewSealerNeedsLongSecrets(t *testing.T) {
	t.Parallel()
	_, err := outbox.NewSealer([]byte("short"))
	require.ErrorContains(t, err, "at least 32")
	_, err = outbox.NewSealer(secret, []byte(strings.Repeat("x", 31)))
	require.ErrorContains(t, err, "at least 32")
}

// FuzzSealerOpen: whatever bytes the database holds, Open returns the message or ErrUnseal, never
// panics, and only payloads made by Seal for that ID, kind and target open.
func FuzzSealerOpen(f *testing.F) {
	s := mustSealer(f, secret)
	good, err := s.Seal(outbox.Message{ID: "id", Kind: "k", Target: "https://a.example/", Body: []byte("b")})
	require.NoError(f, err)
	f.Add(good.Sealed, "id")
	f.Add([]byte{1}, "id")
	f.Add([]byte{}, "")
	f.Fuzz(func(t *testing.T, sealed []byte, id string) {
		m, err := s.Open(outbox.Record{ID: id, Kind: "k", Target: "https://a.example/", Sealed: sealed})
		if err != nil {
			require.ErrorIs(t, err, outbox.ErrUnseal)
			return
		}
		// Only a payload Seal made opens (each fuzzing process seals its own seed).
		require.Equal(t, "id", id)
		require.Equal(t, "b", string(m.Body))
	})
}
