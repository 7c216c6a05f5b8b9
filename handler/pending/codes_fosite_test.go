package pending_test

import (
	"context"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/ory/fosite"
	fositehmac "github.com/ory/fosite/token/hmac"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
)

// fositeAnswer is what fosite's own HMACStrategy says of a handle: its signature when it validates.
func fositeAnswer(ctx context.Context, cfg fositehmac.HMACStrategyConfigurator, handle string) (string, bool) {
	s := &fositehmac.HMACStrategy{Config: cfg}
	if handle == "" || s.Validate(ctx, handle) != nil {
		return "", false
	}
	return s.Signature(handle), true
}

// TestHandleSignatureAgreesWithFosite checks that Codes.HandleSignature (which validates handles
// without allocating on the common path) accepts exactly the handles fosite's HMACStrategy accepts and
// returns the same signature, under every configuration that matters: the default hash, rotated
// secrets, a custom hash, a longer secret, a changed secret, and a larger token entropy.
func TestHandleSignatureAgreesWithFosite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	other := []byte("fedcba9876543210fedcba9876543210")
	long := append([]byte(nil), testSecret...)
	long = append(long, "and then some more bytes"...)
	configs := []struct {
		name string
		cfg  *fosite.Config
	}{
		{"default", &fosite.Config{GlobalSecret: testSecret}},
		{"secret longer than 32 bytes", &fosite.Config{GlobalSecret: long}},
		{"rotated secrets", &fosite.Config{GlobalSecret: testSecret, RotatedGlobalSecrets: [][]byte{other}}},
		{"custom hash", &fosite.Config{GlobalSecret: testSecret, HMACHasher: sha256.New}},
		{"entropy 64", &fosite.Config{GlobalSecret: testSecret, TokenEntropy: 64}},
		{"entropy 200", &fosite.Config{GlobalSecret: testSecret, TokenEntropy: 200}},
	}
	for _, tc := range configs {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			codes := pending.NewCodes(tc.cfg)
			good, sig, err := codes.NewHandle(ctx)
			require.NoError(t, err)
			// A handle made under the other secret, as after a rotation.
			oldCodes := pending.NewCodes(&fosite.Config{GlobalSecret: other, TokenEntropy: tc.cfg.TokenEntropy, HMACHasher: tc.cfg.HMACHasher})
			old, _, err := oldCodes.NewHandle(ctx)
			require.NoError(t, err)
			key, s, _ := strings.Cut(good, ".")
			flip := func(str string, i int) string {
				b := []byte(str)
				if b[i] == 'A' {
					b[i] = 'B'
				} else {
					b[i] = 'A'
				}
				return string(b)
			}
			handles := map[string]string{
				"good":               good,
				"good twice":         good, // the pooled state must be reusable
				"other secret":       old,
				"key tampered":       flip(key, 3) + "." + s,
				"signature tampered": key + "." + flip(s, 5),
				"two dots":           good + ".x",
				"no dot":             key + s,
				"empty key":          "." + s,
				"empty signature":    key + ".",
				"not base64":         key + "!." + s,
				"signature only":     s,
				"long key":           strings.Repeat("A", 300) + "." + s,
				"long signature":     key + "." + strings.Repeat("A", 300),
				"swapped":            s + "." + key,
			}
			for name, h := range handles {
				wantSig, wantOK := fositeAnswer(ctx, tc.cfg, h)
				got, err := codes.HandleSignature(ctx, h)
				if wantOK {
					require.NoError(t, err, name)
					require.Equal(t, wantSig, got, name)
				} else {
					require.ErrorIs(t, err, fosite.ErrInvalidGrant, name)
				}
			}
			wantSig, _ := fositeAnswer(ctx, tc.cfg, good)
			require.Equal(t, sig, wantSig)
		})
	}
}

// TestHandleSignatureSecretChange checks that a server whose global secret changes at run time stops
// accepting handles signed under the old one (the fast path must not keep a stale key).
func TestHandleSignatureSecretChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := &fosite.Config{GlobalSecret: testSecret}
	codes := pending.NewCodes(cfg)
	h, sig, err := codes.NewHandle(ctx)
	require.NoError(t, err)
	got, err := codes.HandleSignature(ctx, h)
	require.NoError(t, err)
	require.Equal(t, sig, got)

	cfg.GlobalSecret = []byte("fedcba9876543210fedcba9876543210")
	_, err = codes.HandleSignature(ctx, h)
	require.ErrorIs(t, err, fosite.ErrInvalidGrant)

	cfg.RotatedGlobalSecrets = [][]byte{testSecret} // the old secret, rotated out: valid again
	got, err = codes.HandleSignature(ctx, h)
	require.NoError(t, err)
	require.Equal(t, sig, got)
}

func BenchmarkHandleSignature(b *testing.B) {
	ctx := context.Background()
	codes := newCodes()
	h, _, err := codes.NewHandle(ctx)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := codes.HandleSignature(ctx, h); err != nil {
			b.Fatal(err)
		}
	}
}
