package reciprocal_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/handler/reciprocal"
)

// auditRecorder keeps the events recorded to it (the parties record from different goroutines).
type auditRecorder struct {
	mu     sync.Mutex
	events []audit.Event
}

func (r *auditRecorder) Record(_ context.Context, e audit.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return nil
}

func (r *auditRecorder) all() []audit.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]audit.Event(nil), r.events...)
}

// TestAuditTrail: a reciprocal grant is in both parties' audit logs (seed 001: "an audit trail of every
// decision"): party A records what its user gave party B once B accepted it, party B the code it
// redeemed and kept, party A the revocation a scope update causes; none holds the code or a token.
func TestAuditTrail(t *testing.T) {
	recA, recB := &auditRecorder{}, &auditRecorder{}
	a := newParty(t, func(o *reciprocal.Options) { o.Audit = recA })
	b := newParty(t, func(o *reciprocal.Options) { o.Audit = recB })
	pairUp(a, b)
	bToken := b.tokenFor(t, partnerID, "https://partner.example/cb")["access_token"].(string)

	ctx := context.Background()
	first, err := a.rg.Issuer.Send(ctx, a.grant(b.srv.URL, bToken, "openid"))
	require.NoError(t, err)
	update := a.grant(b.srv.URL, bToken, "openid", "profile")
	update.Replaces = first.RequestID
	second, err := a.rg.Issuer.Send(ctx, update)
	require.NoError(t, err)

	evA := recA.all()
	require.Len(t, evA, 3, "two grants and the revocation of the first")
	require.Equal(t, audit.EventApproved, evA[0].Type)
	require.Equal(t, first.RequestID, evA[0].RequestID)
	require.Equal(t, "openid", evA[0].Data["scopes"])
	require.Equal(t, audit.EventApproved, evA[1].Type)
	require.Equal(t, second.RequestID, evA[1].RequestID)
	require.Equal(t, "openid profile", evA[1].Data["scopes"])
	require.Equal(t, first.RequestID, evA[1].Data["replaces"])
	require.Equal(t, audit.EventRevoked, evA[2].Type)
	require.Equal(t, first.RequestID, evA[2].RequestID)
	require.Equal(t, "replaced", evA[2].Data["reason"])
	for _, e := range evA[:2] {
		require.Equal(t, audit.GrantReciprocal, e.Grant)
		require.Equal(t, "alice", e.Subject)
		require.Equal(t, partnerID, e.ClientID, "party B's client at party A")
	}

	evB := recB.all()
	require.Len(t, evB, 2, "each code redeemed and kept")
	for _, e := range evB {
		require.Equal(t, audit.EventRedeemed, e.Type)
		require.Equal(t, audit.GrantReciprocal, e.Grant)
		require.Equal(t, "alice", e.Subject)
		require.Equal(t, partnerID, e.ClientID, "party A's client at party B")
		require.NotEmpty(t, e.RequestID)
	}
	require.Equal(t, "openid profile", evB[1].Data["scopes"])

	for _, e := range append(evA, evB...) {
		for k, v := range e.Data {
			s, _ := v.(string)
			require.NotContains(t, s, bToken, "no token in %s", k)
		}
	}
}

// TestAuditRefusedGrant: a grant party B refuses is not recorded as given.
func TestAuditRefusedGrant(t *testing.T) {
	recA := &auditRecorder{}
	a := newParty(t, func(o *reciprocal.Options) { o.Audit = recA })
	b := newParty(t, nil)
	pairUp(a, b)
	_, err := a.rg.Issuer.Send(context.Background(), a.grant(b.srv.URL, "not-a-token", "openid"))
	require.Error(t, err)
	require.Empty(t, recA.all())
}
