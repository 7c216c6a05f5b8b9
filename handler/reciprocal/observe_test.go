package reciprocal_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/reciprocal"
	"github.com/fosite-contrib/grants/observe"
)

// seen records the requests an observer is told about.
type seen struct {
	mu   sync.Mutex
	list []string
}

func (s *seen) Request(_ context.Context, endpoint observe.Endpoint, grant, outcome string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, string(endpoint)+" "+grant+" "+outcome)
}

// TestTokenEndpointReportsRequests: the requests TokenEndpoint answers itself — reciprocal grant
// requests and malformed forms — are reported once, with the error code answered; those it passes on
// are left to the application's token endpoint.
func TestTokenEndpointReportsRequests(t *testing.T) {
	t.Parallel()
	s := &seen{}
	b := newParty(t, func(o *reciprocal.Options) { o.Observer = s })
	status, _ := b.post(t, "/token", reciprocalForm("public", "token", "c"), "", "")
	require.Equal(t, http.StatusUnauthorized, status)
	status, _ = b.post(t, "/token", url.Values{"grant_type": {"client_credentials"}}, partnerID, partnerSecret)
	require.Equal(t, http.StatusOK, status)
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+"/token", strings.NewReader("grant_type=client_credentials&scope=a&scope=b"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	s.mu.Lock()
	defer s.mu.Unlock()
	require.Equal(t, []string{"token reciprocal invalid_client", "token client_credentials invalid_request"}, s.list)
}
