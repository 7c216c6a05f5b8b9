package reciprocal_test

import (
	"context"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/fosite-contrib/grants/handler/reciprocal"
	"github.com/fosite-contrib/grants/storage/memory"
)

func TestLinksSealedRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	vault, err := reciprocal.NewVault([]byte("a global secret of at least 32 bytes!!"))
	require.NoError(t, err)
	store := memory.New()
	links := &reciprocal.Links{Storage: store, Vault: vault, Now: func() time.Time { return time.Unix(1700000000, 0) }}
	tok := (&oauth2.Token{AccessToken: "party-b-access-token", RefreshToken: "rt", TokenType: "bearer"}).
		WithExtra(map[string]interface{}{"scope": "openid profile"})
	require.NoError(t, links.Save(ctx, &reciprocal.Link{ClientID: "partner", Subject: "alice", Token: tok, Asked: "openid profile",
		RequestID: "req-1", Granted: []string{"openid"}}))

	stored, err := store.GetReciprocalLink(ctx, "partner", "alice")
	require.NoError(t, err)
	require.NotContains(t, string(stored.Sealed), "party-b-access-token", "the token is stored in the clear")

	got, err := links.Get(ctx, "partner", "alice")
	require.NoError(t, err)
	require.Equal(t, "party-b-access-token", got.Token.AccessToken)
	require.Equal(t, "rt", got.Token.RefreshToken)
	require.Equal(t, "openid profile", got.Asked)
	require.Equal(t, "req-1", got.RequestID)
	require.Equal(t, []string{"openid"}, got.Granted)

	// A row moved to another user, or into party B's token table, does not open.
	stored.Subject = "mallory"
	require.NoError(t, store.SetReciprocalLink(ctx, stored))
	_, err = links.Get(ctx, "partner", "mallory")
	require.ErrorIs(t, err, reciprocal.ErrUnsealable)
	require.NoError(t, store.SetReciprocalToken(ctx, &reciprocal.StoredToken{ClientID: "partner", Subject: "alice", Sealed: stored.Sealed}))
	_, err = (&reciprocal.Tokens{Storage: store, Vault: vault}).Token(ctx, "partner", "alice")
	require.ErrorIs(t, err, reciprocal.ErrUnsealable, "a link's token opened as one of party B's tokens")

	require.NoError(t, links.Forget(ctx, "partner", "alice"))
	_, err = links.Get(ctx, "partner", "alice")
	require.ErrorIs(t, err, fosite.ErrNotFound)
}
