package storagetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/signin"
)

// SignInFactory returns a fresh, empty store. It is called once per test.
type SignInFactory func(t *testing.T) signin.Storage

// RunSignInStorageTests is the conformance suite of signin.Storage: sessions are returned exactly as
// written until they expire, a second session with the same hash is refused without replacing the
// first, deleting ends only the session deleted (and deleting twice is harmless), and anything missing
// or expired is fosite.ErrNotFound.
func RunSignInStorageTests(t *testing.T, factory SignInFactory) {
	ctx := context.Background()
	session := func(n int, subject string) *signin.Session {
		_, hash, err := signin.NewSessionID()
		require.NoError(t, err)
		return &signin.Session{
			IDHash: hash, Subject: subject,
			AuthTime:  t0.Add(time.Duration(n)*time.Second + 123456789),
			ExpiresAt: t0.Add(12 * time.Hour),
		}
	}

	t.Run("missing session is ErrNotFound", func(t *testing.T) {
		t.Parallel()
		s := factory(t)
		_, err := s.GetSignInSession(ctx, signin.HashSessionID("no such session"), t0)
		require.ErrorIs(t, err, fosite.ErrNotFound)
		require.NoError(t, s.DeleteSignInSession(ctx, signin.HashSessionID("no such session")))
	})

	t.Run("round trip keeps every field", func(t *testing.T) {
		t.Parallel()
		s := factory(t)
		want := session(1, "alice")
		require.NoError(t, s.CreateSignInSession(ctx, want))
		got, err := s.GetSignInSession(ctx, want.IDHash, t0)
		require.NoError(t, err)
		require.Equal(t, want.IDHash, got.IDHash)
		require.Equal(t, want.Subject, got.Subject)
		require.True(t, want.AuthTime.Equal(got.AuthTime), "auth time %v, got %v", want.AuthTime, got.AuthTime)
		require.True(t, want.ExpiresAt.Equal(got.ExpiresAt), "expires %v, got %v", want.ExpiresAt, got.ExpiresAt)
	})

	t.Run("expired session is ErrNotFound", func(t *testing.T) {
		t.Parallel()
		s := factory(t)
		sess := session(1, "alice")
		require.NoError(t, s.CreateSignInSession(ctx, sess))
		_, err := s.GetSignInSession(ctx, sess.IDHash, sess.ExpiresAt.Add(-time.Nanosecond))
		require.NoError(t, err, "valid until its expiry")
		_, err = s.GetSignInSession(ctx, sess.IDHash, sess.ExpiresAt)
		require.ErrorIs(t, err, fosite.ErrNotFound, "ended at its expiry")
	})

	t.Run("same hash twice is refused and keeps the first", func(t *testing.T) {
		t.Parallel()
		s := factory(t)
		first := session(1, "alice")
		require.NoError(t, s.CreateSignInSession(ctx, first))
		second := *first
		second.Subject = "mallory"
		require.Error(t, s.CreateSignInSession(ctx, &second))
		got, err := s.GetSignInSession(ctx, first.IDHash, t0)
		require.NoError(t, err)
		require.Equal(t, "alice", got.Subject)
	})

	t.Run("delete ends only that session", func(t *testing.T) {
		t.Parallel()
		s := factory(t)
		phone, laptop := session(1, "alice"), session(2, "alice")
		require.NoError(t, s.CreateSignInSession(ctx, phone))
		require.NoError(t, s.CreateSignInSession(ctx, laptop))
		require.NoError(t, s.DeleteSignInSession(ctx, phone.IDHash))
		_, err := s.GetSignInSession(ctx, phone.IDHash, t0)
		require.ErrorIs(t, err, fosite.ErrNotFound)
		got, err := s.GetSignInSession(ctx, laptop.IDHash, t0)
		require.NoError(t, err)
		require.Equal(t, "alice", got.Subject)
		require.NoError(t, s.DeleteSignInSession(ctx, phone.IDHash), "signing out twice is harmless")
	})

	t.Run("incomplete session is refused", func(t *testing.T) {
		t.Parallel()
		s := factory(t)
		for name, sess := range map[string]*signin.Session{
			"no hash":    {Subject: "alice", ExpiresAt: t0.Add(time.Hour)},
			"no subject": {IDHash: signin.HashSessionID("x"), ExpiresAt: t0.Add(time.Hour)},
		} {
			require.Error(t, s.CreateSignInSession(ctx, sess), name)
		}
	})

	t.Run("concurrent sign-ins and sign-outs", func(t *testing.T) {
		t.Parallel()
		s := factory(t)
		const n = 32
		sessions := make([]*signin.Session, n)
		for i := range sessions {
			sessions[i] = session(i, fmt.Sprintf("user-%d", i))
		}
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for _, sess := range sessions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- s.CreateSignInSession(ctx, sess)
			}()
		}
		wg.Wait()
		for i := 0; i < n; i += 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- s.DeleteSignInSession(ctx, sessions[i].IDHash)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		for i, sess := range sessions {
			got, err := s.GetSignInSession(ctx, sess.IDHash, t0)
			if i%2 == 0 {
				require.ErrorIs(t, err, fosite.ErrNotFound, "session %d was deleted", i)
				continue
			}
			require.NoError(t, err)
			require.Equal(t, sess.Subject, got.Subject)
		}
	})
}
