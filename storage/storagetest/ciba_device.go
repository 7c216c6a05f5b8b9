package storagetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/ciba"
)

// DeviceFactory returns a fresh, empty ciba.DeviceStorage. It is called once per test.
type DeviceFactory func(t *testing.T) ciba.DeviceStorage

// RunCIBADeviceStorageTests is the conformance suite of ciba.DeviceStorage: rows keyed by (subject,
// device ID), every field returned as written, listed oldest first, replaced by a later write, deleted,
// one preferred device per user after PreferCIBADevice (also when many run at once), and
// fosite.ErrNotFound, changing nothing, for anything missing.
func RunCIBADeviceStorageTests(t *testing.T, factory DeviceFactory) {
	ctx := context.Background()
	dev := func(subject, id string, n int) *ciba.EnrolledDevice {
		return &ciba.EnrolledDevice{
			Subject: subject, Device: ciba.Device{ID: id, Kind: "email"}, Name: "Näme " + id,
			CreatedAt: t0.Add(time.Duration(n) * time.Second),
		}
	}
	preferred := func(t *testing.T, s ciba.DeviceStorage, subject string) []string {
		ds, err := s.ListCIBADevices(ctx, subject)
		require.NoError(t, err)
		var ids []string
		for _, d := range ds {
			if d.Preferred {
				ids = append(ids, d.ID)
			}
		}
		return ids
	}

	t.Run("none is an empty list, missing rows are ErrNotFound", func(t *testing.T) {
		t.Parallel()
		s := factory(t)
		ds, err := s.ListCIBADevices(ctx, "alice")
		require.NoError(t, err)
		require.Empty(t, ds)
		require.ErrorIs(t, s.DeleteCIBADevice(ctx, "alice", "a@example.com"), fosite.ErrNotFound)
		require.ErrorIs(t, s.PreferCIBADevice(ctx, "alice", "a@example.com"), fosite.ErrNotFound)
	})

	t.Run("round trip keeps every field, oldest first", func(t *testing.T) {
		t.Parallel()
		s := factory(t)
		second, first := dev("alice", "+15550100001", 2), dev("alice", "a@example.com", 1)
		second.Kind, second.Preferred = "sms", true
		require.NoError(t, s.PutCIBADevice(ctx, second))
		require.NoError(t, s.PutCIBADevice(ctx, first))
		ds, err := s.ListCIBADevices(ctx, "alice")
		require.NoError(t, err)
		require.Len(t, ds, 2)
		for i, want := range []*ciba.EnrolledDevice{first, second} {
			got := ds[i]
			require.Equal(t, want.Subject, got.Subject)
			require.Equal(t, want.Device, got.Device)
			require.Equal(t, want.Name, got.Name)
			require.Equal(t, want.Preferred, got.Preferred)
			require.True(t, want.CreatedAt.Equal(got.CreatedAt), "created %v, got %v", want.CreatedAt, got.CreatedAt)
		}
	})

	t.Run("a later write replaces the row", func(t *testing.T) {
		t.Parallel()
		s := factory(t)
		d := dev("alice", "a@example.com", 1)
		require.NoError(t, s.PutCIBADevice(ctx, d))
		d.Name, d.Preferred = "Work mail", true
		require.NoError(t, s.PutCIBADevice(ctx, d))
		ds, err := s.ListCIBADevices(ctx, "alice")
		require.NoError(t, err)
		require.Len(t, ds, 1)
		require.Equal(t, "Work mail", ds[0].Name)
		require.True(t, ds[0].Preferred)
	})

	t.Run("users are separate", func(t *testing.T) {
		t.Parallel()
		s := factory(t)
		require.NoError(t, s.PutCIBADevice(ctx, dev("alice", "shared-id", 1)))
		require.NoError(t, s.PutCIBADevice(ctx, dev("bob", "shared-id", 2)))
		require.NoError(t, s.DeleteCIBADevice(ctx, "alice", "shared-id"))
		ds, err := s.ListCIBADevices(ctx, "bob")
		require.NoError(t, err)
		require.Len(t, ds, 1)
		require.ErrorIs(t, s.PreferCIBADevice(ctx, "alice", "shared-id"), fosite.ErrNotFound)
		require.Empty(t, preferred(t, s, "bob"), "preferring for another user changed bob's device")
	})

	t.Run("prefer marks one device and clears the others", func(t *testing.T) {
		t.Parallel()
		s := factory(t)
		for i, id := range []string{"a", "b", "c"} {
			d := dev("alice", id, i)
			d.Preferred = id == "a"
			require.NoError(t, s.PutCIBADevice(ctx, d))
		}
		require.NoError(t, s.PutCIBADevice(ctx, dev("bob", "x", 9)))
		require.NoError(t, s.PreferCIBADevice(ctx, "bob", "x"))
		require.NoError(t, s.PreferCIBADevice(ctx, "alice", "c"))
		require.Equal(t, []string{"c"}, preferred(t, s, "alice"))
		require.ErrorIs(t, s.PreferCIBADevice(ctx, "alice", "nope"), fosite.ErrNotFound)
		require.Equal(t, []string{"c"}, preferred(t, s, "alice"), "a failed prefer changed the mark")
		require.Equal(t, []string{"x"}, preferred(t, s, "bob"))
	})

	t.Run("concurrent prefers leave exactly one preferred device", func(t *testing.T) {
		t.Parallel()
		s := factory(t)
		ids := []string{"a", "b", "c", "d", "e", "f"}
		for i, id := range ids {
			require.NoError(t, s.PutCIBADevice(ctx, dev("alice", id, i)))
		}
		var wg sync.WaitGroup
		for _, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				require.NoError(t, s.PreferCIBADevice(ctx, "alice", id))
			}()
		}
		wg.Wait()
		require.Len(t, preferred(t, s, "alice"), 1)
	})

	t.Run("delete removes one device", func(t *testing.T) {
		t.Parallel()
		s := factory(t)
		require.NoError(t, s.PutCIBADevice(ctx, dev("alice", "a", 1)))
		require.NoError(t, s.PutCIBADevice(ctx, dev("alice", "b", 2)))
		require.NoError(t, s.DeleteCIBADevice(ctx, "alice", "a"))
		require.ErrorIs(t, s.DeleteCIBADevice(ctx, "alice", "a"), fosite.ErrNotFound)
		ds, err := s.ListCIBADevices(ctx, "alice")
		require.NoError(t, err)
		require.Len(t, ds, 1)
		require.Equal(t, "b", ds[0].ID)
	})
}
