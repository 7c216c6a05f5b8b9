package storagetest

import (
	"context"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/reciprocal"
)

// ReciprocalLinkFactory returns a fresh, empty store in which client exists. It is called once per test.
type ReciprocalLinkFactory func(t *testing.T, client fosite.Client) reciprocal.LinkStorage

// RunReciprocalLinkStorageTests is the conformance suite of reciprocal.LinkStorage: rows keyed by
// (client, subject), every field returned as written, replaced by a later write, deleted, and
// fosite.ErrNotFound for anything missing.
func RunReciprocalLinkStorageTests(t *testing.T, factory ReciprocalLinkFactory) {
	ctx := context.Background()
	client := &fosite.DefaultClient{ID: "storagetest-partner", GrantTypes: []string{string(reciprocal.GrantType)}}
	row := func(subject string) *reciprocal.StoredLink {
		return &reciprocal.StoredLink{
			ClientID: client.ID, Subject: subject, Sealed: []byte("sealed\x00\xff"), Asked: "openid profile",
			RequestID: "req-1", Granted: []string{"openid"}, UpdatedAt: t0,
		}
	}

	t.Run("missing row is ErrNotFound", func(t *testing.T) {
		t.Parallel()
		s := factory(t, client)
		_, err := s.GetReciprocalLink(ctx, client.ID, "alice")
		require.ErrorIs(t, err, fosite.ErrNotFound)
		require.ErrorIs(t, s.DeleteReciprocalLink(ctx, client.ID, "alice"), fosite.ErrNotFound)
	})

	t.Run("round trip keeps every field, a later write replaces it", func(t *testing.T) {
		t.Parallel()
		s := factory(t, client)
		want := row("alice")
		require.NoError(t, s.SetReciprocalLink(ctx, want))
		got, err := s.GetReciprocalLink(ctx, client.ID, "alice")
		require.NoError(t, err)
		require.Equal(t, want.Sealed, got.Sealed)
		require.Equal(t, want.Asked, got.Asked)
		require.Equal(t, want.RequestID, got.RequestID)
		require.Equal(t, want.Granted, got.Granted)
		require.True(t, want.UpdatedAt.Equal(got.UpdatedAt))

		want.RequestID, want.Granted, want.UpdatedAt = "", nil, t0.Add(time.Minute)
		require.NoError(t, s.SetReciprocalLink(ctx, want))
		got, err = s.GetReciprocalLink(ctx, client.ID, "alice")
		require.NoError(t, err)
		require.Empty(t, got.RequestID)
		require.Empty(t, got.Granted)
		require.True(t, want.UpdatedAt.Equal(got.UpdatedAt))
	})

	t.Run("users are separate, delete removes one", func(t *testing.T) {
		t.Parallel()
		s := factory(t, client)
		require.NoError(t, s.SetReciprocalLink(ctx, row("alice")))
		require.NoError(t, s.SetReciprocalLink(ctx, row("bob")))
		require.NoError(t, s.DeleteReciprocalLink(ctx, client.ID, "alice"))
		_, err := s.GetReciprocalLink(ctx, client.ID, "alice")
		require.ErrorIs(t, err, fosite.ErrNotFound)
		_, err = s.GetReciprocalLink(ctx, client.ID, "bob")
		require.NoError(t, err)
	})
}
