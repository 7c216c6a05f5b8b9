package reciprocal_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/reciprocal"
	"github.com/fosite-contrib/grants/outbound"
)

// TestNewHTTPClientChecksTheDialledAddress: https is not enough. A partner URL on a loopback address
// is refused at connect time unless loopback is allowed (development), and the server is never
// reached.
func TestNewHTTPClientChecksTheDialledAddress(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	_, err := reciprocal.NewHTTPClient(time.Second, false).Post(srv.URL+"/token", "application/x-www-form-urlencoded", nil)
	require.ErrorIs(t, err, outbound.ErrForbidden)
	require.Zero(t, hits.Load())
}
