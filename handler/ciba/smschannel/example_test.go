package smschannel_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/ciba/smschannel"
	"github.com/fosite-contrib/grants/notify"
	"github.com/fosite-contrib/grants/storage/memory"
)

// A server that reaches its users by text message and takes their replies from the SMS provider's
// webhook.
func ExampleNew() {
	outbox := notify.NewOutbox(10) // in production: notify.NewHTTPSMS(...)
	store := memory.New()          // in production: the SQL store
	ch, err := smschannel.New(smschannel.Config{
		Sender: outbox, Store: store, Attempts: store,
		Secrets: &fosite.Config{GlobalSecret: []byte("a global secret of at least 32 bytes")},
		Decider: &ciba.Decider{}, // in production: the CIBA grant's Decider
		NewSession: func(_ context.Context, subject string, _ time.Time) fosite.Session {
			return &openid.DefaultSession{Subject: subject}
		},
		Signer:     smschannel.Signer{Key: []byte("the provider's auth token")},
		WebhookURL: "https://id.example.com/sms/inbound", // as configured at the provider
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/sms/inbound", ch.Handler())

	// The backchannel endpoint calls Notify for each request (as the grant's AuthenticationDevice).
	err = ch.Notify(context.Background(), ciba.Notification{
		Request: ciba.Request{Ref: "r1", Subject: "dave", ClientName: "Corner Shop", Scopes: []string{"openid"},
			ExpiresAt: time.Now().Add(5 * time.Minute)},
		Devices: []ciba.Device{{ID: "+15550100004", Kind: smschannel.DeviceKind}},
	})
	if err != nil {
		panic(err)
	}
	m := outbox.Messages()[0]
	fmt.Println(m.To, m.Channel)
	// Output:
	// +15550100004 sms
}
