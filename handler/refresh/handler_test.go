package refresh

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"
)

// TestLostRace: what fosite's refresh handler makes of a store's errors (flow_refresh.go,
// handleRefreshTokenEndpointStorageError) is recognised as a lost race exactly when the store said the
// token was inactive or gone, or another transaction won.
func TestLostRace(t *testing.T) {
	asFosite := func(storeErr error) error { // fosite's wrapping of those store errors (with a stack)
		return fmt.Errorf("stack: %w", fosite.ErrInvalidRequest.WithWrap(storeErr).WithHint("Failed to refresh token. Please retry the request."))
	}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"no error", nil, false},
		{"store found the token inactive", asFosite(fmt.Errorf("rotated: %w", fosite.ErrInactiveToken)), true},
		{"store found no token", asFosite(fosite.ErrNotFound), true},
		{"serialization failure", asFosite(errors.Join(fosite.ErrSerializationFailure, errors.New("40001"))), true},
		{"invalid_request about something else", asFosite(errors.New("malformed")), false},
		{"server error wrapping an inactive token", fosite.ErrServerError.WithWrap(asFosite(fosite.ErrInactiveToken)), false},
		{"invalid_grant from the checks", fosite.ErrInvalidGrant.WithWrap(fosite.ErrInactiveToken), false},
		{"a plain store error", fosite.ErrInactiveToken, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, lostRace(c.err))
		})
	}
}
