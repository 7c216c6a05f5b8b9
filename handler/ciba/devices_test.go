package ciba_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/storage/memory"
)

func newDevices(t *testing.T) (*ciba.Devices, *time.Time) {
	t.Helper()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return &ciba.Devices{
		Storage: memory.New(),
		EnrollmentDevice: func(_ context.Context, subject string, _ ciba.Request) (ciba.Device, error) {
			return ciba.Device{ID: subject + "@example.com", Kind: "email"}, nil
		},
		MaxPerUser: 3,
		Now:        func() time.Time { return now },
	}, &now
}

func ids(ds []ciba.EnrolledDevice) []string {
	out := []string{}
	for _, d := range ds {
		id := d.ID
		if d.Preferred {
			id += "*"
		}
		out = append(out, id)
	}
	return out
}

func TestDevicesPreferredFirstAndPassedOn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, now := newDevices(t)
	for _, id := range []string{"a", "b", "c"} {
		_, err := d.Add(ctx, "alice", ciba.Device{ID: id, Kind: "email"}, "")
		require.NoError(t, err)
		*now = now.Add(time.Second)
	}
	list, err := d.List(ctx, "alice")
	require.NoError(t, err)
	require.Equal(t, []string{"a*", "b", "c"}, ids(list), "the first device enrolled is the preferred one")

	require.NoError(t, d.Prefer(ctx, "alice", "c"))
	reach, err := d.Reachable(ctx, "alice")
	require.NoError(t, err)
	require.Equal(t, "c", reach[0].ID, "requests go to the preferred device first")

	require.NoError(t, d.Remove(ctx, "alice", "c"))
	list, err = d.List(ctx, "alice")
	require.NoError(t, err)
	require.Equal(t, []string{"a*", "b"}, ids(list), "removing the preferred device passes the mark to the oldest")

	require.ErrorIs(t, d.Remove(ctx, "alice", "c"), ciba.ErrDeviceNotFound)
	require.ErrorIs(t, d.Prefer(ctx, "bob", "a"), ciba.ErrDeviceNotFound, "another user's device")
}

func TestDevicesAdd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		dev     ciba.Device
		devName string
		wantErr error
	}{
		{"plain", ciba.Device{ID: "+15550100004", Kind: "sms"}, "Dave's phone", nil},
		{"no ID", ciba.Device{Kind: "sms"}, "", ciba.ErrInvalidDevice},
		{"no kind", ciba.Device{ID: "x"}, "", ciba.ErrInvalidDevice},
		{"line break in the name", ciba.Device{ID: "x", Kind: "sms"}, "my\nphone", ciba.ErrInvalidDevice},
		{"bidi override in the name", ciba.Device{ID: "x", Kind: "sms"}, "enohp\u202e", ciba.ErrInvalidDevice},
		{"name too long", ciba.Device{ID: "x", Kind: "sms"}, strings.Repeat("é", ciba.MaxDeviceNameLength+1), ciba.ErrInvalidDevice},
		{"ID too long", ciba.Device{ID: strings.Repeat("x", ciba.MaxDeviceIDLength+1), Kind: "sms"}, "", ciba.ErrInvalidDevice},
		{"invalid UTF-8", ciba.Device{ID: "x\xff", Kind: "sms"}, "", ciba.ErrInvalidDevice},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, _ := newDevices(t)
			e, err := d.Add(ctx, "dave", tc.dev, tc.devName)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				list, err := d.List(ctx, "dave")
				require.NoError(t, err)
				require.Empty(t, list, "a refused device was stored")
				return
			}
			require.NoError(t, err)
			require.True(t, e.Preferred)
			require.Equal(t, tc.devName, e.Name)
		})
	}
}

func TestDevicesAddAgainKeepsPlaceTakesName(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, now := newDevices(t)
	_, err := d.Add(ctx, "alice", ciba.Device{ID: "a", Kind: "email"}, "Home")
	require.NoError(t, err)
	*now = now.Add(time.Hour)
	_, err = d.Add(ctx, "alice", ciba.Device{ID: "b", Kind: "email"}, "")
	require.NoError(t, err)
	require.NoError(t, d.Prefer(ctx, "alice", "b"))
	e, err := d.Add(ctx, "alice", ciba.Device{ID: "a", Kind: "email"}, "")
	require.NoError(t, err)
	require.Equal(t, "Home", e.Name, "adding a device again without a name keeps its name")
	_, err = d.Add(ctx, "alice", ciba.Device{ID: "a", Kind: "email"}, "Work")
	require.NoError(t, err)
	list, err := d.List(ctx, "alice")
	require.NoError(t, err)
	require.Equal(t, []string{"b*", "a"}, ids(list))
	require.Equal(t, "Work", list[1].Name)
	require.True(t, list[1].CreatedAt.Before(list[0].CreatedAt), "re-adding moved the device")
}

func TestDevicesLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := newDevices(t)
	for _, id := range []string{"a", "b", "c"} {
		_, err := d.Add(ctx, "alice", ciba.Device{ID: id, Kind: "email"}, "")
		require.NoError(t, err)
	}
	_, err := d.Add(ctx, "alice", ciba.Device{ID: "d", Kind: "email"}, "")
	require.ErrorIs(t, err, ciba.ErrTooManyDevices)
	_, err = d.Add(ctx, "alice", ciba.Device{ID: "a", Kind: "email"}, "renamed")
	require.NoError(t, err, "renaming a device at the limit is not adding one")
}

func TestDevicesRename(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := newDevices(t)
	_, err := d.Add(ctx, "alice", ciba.Device{ID: "a", Kind: "email"}, "Home")
	require.NoError(t, err)
	require.NoError(t, d.Rename(ctx, "alice", "a", "  Work  "))
	require.ErrorIs(t, d.Rename(ctx, "alice", "a", "bad\x00name"), ciba.ErrInvalidDevice)
	require.ErrorIs(t, d.Rename(ctx, "alice", "zz", "x"), ciba.ErrDeviceNotFound)
	list, err := d.List(ctx, "alice")
	require.NoError(t, err)
	require.Equal(t, "Work", list[0].Name)
	require.True(t, list[0].Preferred, "renaming cleared the preference")
}

func TestDevicesEnroll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := newDevices(t)
	require.NoError(t, d.Enroll(ctx, "bob", ciba.Request{}))
	require.NoError(t, d.Enroll(ctx, "bob", ciba.Request{}), "enrolling the same device twice")
	reach, err := d.Reachable(ctx, "bob")
	require.NoError(t, err)
	require.Equal(t, []ciba.Device{{ID: "bob@example.com", Kind: "email"}}, reach)

	failing := &ciba.Devices{Storage: memory.New(), EnrollmentDevice: func(context.Context, string, ciba.Request) (ciba.Device, error) {
		return ciba.Device{}, errors.New("no verified address")
	}}
	require.Error(t, failing.Enroll(ctx, "bob", ciba.Request{}))
	require.Error(t, (&ciba.Devices{Storage: memory.New()}).Enroll(ctx, "bob", ciba.Request{}), "no EnrollmentDevice")
}
