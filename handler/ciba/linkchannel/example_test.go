package linkchannel_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/ciba/linkchannel"
	"github.com/fosite-contrib/grants/notify"
	"github.com/fosite-contrib/grants/storage/memory"
)

// A server that reaches its users by e-mail: the channel is the CIBA grant's AuthenticationDevice,
// and its page is mounted where the links point.
func ExampleNew() {
	outbox := notify.NewOutbox(10) // in production: notify.NewSMTP(...)
	ch, err := linkchannel.New(linkchannel.Config{
		Sender:  outbox,
		Store:   &memory.CIBALinkStore{}, // in production: the SQL store
		Secrets: &fosite.Config{GlobalSecret: []byte("a global secret of at least 32 bytes")},
		LinkURL: "https://id.example.com/l",
		Decider: &ciba.Decider{}, // in production: compose's Provider.CIBA.Decider
		NewSession: func(_ context.Context, subject string, _ time.Time) fosite.Session {
			return &openid.DefaultSession{Subject: subject}
		},
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/l/", ch.Handler())

	// The backchannel endpoint calls Notify for each request (compose: Config.CIBA.Devices = ch).
	err = ch.Notify(context.Background(), ciba.Notification{
		Request: ciba.Request{Ref: "r1", Subject: "ana", ClientName: "Corner Shop", Scopes: []string{"openid", "email"},
			BindingMessage: "W4SCT", ExpiresAt: time.Now().Add(5 * time.Minute)},
		Devices: []ciba.Device{{ID: "ana@example.com", Kind: "email"}},
	})
	if err != nil {
		panic(err)
	}
	m := outbox.Messages()[0]
	fmt.Println(m.To)
	fmt.Println(m.Subject)
	// Output:
	// ana@example.com
	// Corner Shop asks you to sign in
}
