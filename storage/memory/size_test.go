package memory_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/url"
	"runtime"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/storage/memory"
)

// TestBytesPerPendingGrant measures the heap a pending device grant costs in the memory store, at 100k
// grants shaped like the device authorization endpoint's (client, two scopes, the sanitised form, the
// device's address and user agent, 43-character signatures). The store is meant to hold a large fleet
// of polling devices, so the figure is bounded: at most 2 KiB per grant.
func TestBytesPerPendingGrant(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 100k grants")
	}
	const n = 100_000
	ctx := context.Background()
	client := &fosite.DefaultClient{ID: "demo-device", Public: true}
	now := time.Now().UTC()
	sig := func() string {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	// Signatures are made before the baseline: a real server receives them from its HMAC anyway.
	sigs := make([][2]string, n)
	for i := range sigs {
		sigs[i] = [2]string{sig(), sig()}
	}
	s := memory.New()
	before := heapAfterGC()
	for i := 0; i < n; i++ {
		req := fosite.NewRequest()
		req.ID = "4b0b5a3c-8a4e-4d8e-9a57-6a1f2f3d4e5f"[:36-len(itoa(i))] + itoa(i)
		req.Client = client
		req.RequestedAt = now
		req.RequestedScope = fosite.Arguments{"openid", "profile"}
		req.Form = url.Values{"scope": {"openid profile"}, "client_id": {"demo-device"}}
		g := &pending.Grant{
			Kind: pending.KindDeviceCode, HandleSignature: sigs[i][0], UserCodeSignature: sigs[i][1],
			Request: req, State: pending.StatePending, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute),
			Interval: 5 * time.Second,
			Device:   pending.DeviceInfo{RemoteAddr: "192.0.2.10", UserAgent: "Go-http-client/1.1"},
		}
		require.NoError(t, s.CreatePendingGrant(ctx, g))
	}
	after := heapAfterGC()
	per := float64(after-before) / n
	t.Logf("memory store: %.0f bytes per pending grant at %d grants (heap %d → %d)", per, n, before, after)
	require.LessOrEqual(t, per, 2048.0, "a pending grant should cost at most 2 KiB")
	runtime.KeepAlive(s)
	runtime.KeepAlive(sigs)
}

func heapAfterGC() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	p := len(b)
	for i > 0 {
		p--
		b[p] = byte('0' + i%10)
		i /= 10
	}
	return string(b[p:])
}
