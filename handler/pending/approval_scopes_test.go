package pending_test

import (
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
)

// TestValidateApprovalScopes: an approval grants what was requested, or less, plus the scopes the
// person chose in place of a requested scope that carries a choice (Decision.ChosenScopes) — and
// nothing else.
func TestValidateApprovalScopes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		granted []string
		chosen  map[string][]string
		ok      bool
	}{
		{"what was requested", []string{"openid", "photos"}, nil, true},
		{"less", []string{"openid"}, nil, true},
		{"a scope not requested", []string{"openid", "photos:read"}, nil, false},
		{"chosen in place of a requested scope", []string{"openid", "photos:read"}, map[string][]string{"photos": {"photos:read"}}, true},
		{"chosen in place of a scope not requested", []string{"health:read"}, map[string][]string{"health": {"health:read"}}, false},
		{"not among the chosen", []string{"photos:manage"}, map[string][]string{"photos": {"photos:read"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := grantFor("c", pending.StatePending, time.Now().Add(time.Minute))
			g.Request.(*fosite.Request).RequestedScope = fosite.Arguments{"openid", "photos"}
			sess := openid.NewDefaultSession()
			sess.Claims.Subject = "alice"
			err := pending.ValidateApproval(g, &pending.Decision{Subject: "alice", Session: sess, GrantedScopes: tc.granted, ChosenScopes: tc.chosen})
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, fosite.ErrInvalidScope)
		})
	}
}
