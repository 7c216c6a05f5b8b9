package audit_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"

	"github.com/go-jose/go-jose/v3"

	"github.com/fosite-contrib/grants/audit"
)

// A kiosk clerk checks a customer's ID and approves the device grant; later the
// TV redeems it. An auditor verifies the log with the public key only.
func Example() {
	ctx := context.Background()

	// The authorization server's audit key. Publish only the public half to
	// auditors; keep retired public keys in the set after a rotation.
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signing := jose.JSONWebKey{Key: priv, KeyID: "audit-2025", Algorithm: string(jose.ES256), Use: "sig"}
	trusted := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{signing.Public()}}

	store := audit.NewMemoryStorage() // the SQL store in production
	log, err := audit.NewLog(store, jose.SigningKey{Algorithm: jose.ES256, Key: signing},
		audit.Options{Issuer: "https://login.utility.example"})
	if err != nil {
		panic(err)
	}

	_ = log.Record(ctx, audit.Event{
		Type:      audit.EventApproved,
		Grant:     audit.GrantDeviceCode,
		Subject:   "customer-1042",
		Actor:     "clerk-7",
		ClientID:  "utility-tv-app",
		RequestID: "req-8f14",
		Data:      map[string]any{"proofing": "id_document"},
	})
	_ = log.Record(ctx, audit.Event{
		Type:      audit.EventRedeemed,
		Grant:     audit.GrantDeviceCode,
		Subject:   "customer-1042",
		ClientID:  "utility-tv-app",
		RequestID: "req-8f14",
	})

	report, err := audit.Verify(ctx, store, audit.KeySet(trusted))
	if err != nil {
		fmt.Println("tampered:", err)
		return
	}
	fmt.Println("verified records:", report.Records)
	// Write report.Head somewhere the database admins cannot reach, and
	// pass it as Verifier.Anchor next time to detect a truncated tail.

	recs, _ := store.ListAuditRecords(ctx, 0, 10)
	for _, r := range recs {
		e, _ := audit.Decode(r.Token, audit.KeySet(trusted))
		fmt.Println(r.Seq, e.Type, e.Subject, e.Actor)
	}
	// Output:
	// verified records: 2
	// 1 https://github.com/fosite-contrib/grants/event/pending/approved customer-1042 clerk-7
	// 2 https://github.com/fosite-contrib/grants/event/pending/redeemed customer-1042
}
