package clientauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ory/fosite"
	"github.com/ory/fosite/storage"
	"github.com/stretchr/testify/require"
)

// TestFositeClientAuthentication runs fosite's own client authentication
// (HTTP Basic, RFC 6749 §2.3.1) with the cache installed, the way a token
// endpoint being polled would.
func TestFositeClientAuthentication(t *testing.T) {
	t.Parallel()
	inner := newCountingHasher()
	cfg := &fosite.Config{ClientSecretsHasher: &CachingHasher{Hasher: inner}}
	ctx := context.Background()

	current, err := cfg.GetSecretsHasher(ctx).Hash(ctx, []byte("current"))
	require.NoError(t, err)
	old, err := cfg.GetSecretsHasher(ctx).Hash(ctx, []byte("old"))
	require.NoError(t, err)

	store := storage.NewMemoryStore()
	client := &fosite.DefaultClient{ID: "tv", Secret: current, RotatedSecrets: [][]byte{old}}
	store.Clients["tv"] = client
	provider := &fosite.Fosite{Store: store, Config: cfg}

	authenticate := func(secret string) error {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader("grant_type=x"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth("tv", url.QueryEscape(secret))
		_, err := provider.AuthenticateClient(ctx, r, url.Values{"grant_type": {"x"}})
		return err
	}

	for range 5 {
		require.NoError(t, authenticate("current"))
	}
	require.EqualValues(t, 1, inner.compares.Load(), "five polls, one bcrypt")

	// The rotated secret still works: fosite tries the current hash (fails,
	// not cached) and then the rotated one (succeeds, cached).
	require.NoError(t, authenticate("old"))
	require.NoError(t, authenticate("old"))
	require.EqualValues(t, 4, inner.compares.Load())

	// Dropping the rotated hash from the client revokes it at once, even
	// though a successful comparison for it is still cached.
	client.RotatedSecrets = nil
	require.ErrorIs(t, authenticate("old"), fosite.ErrInvalidClient)

	require.ErrorIs(t, authenticate("wrong"), fosite.ErrInvalidClient)
	require.NoError(t, authenticate("current"))
}
