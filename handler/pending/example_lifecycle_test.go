package pending_test

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/ory/fosite"
	fcompose "github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/storage/memory"
)

// A pending grant's whole life, without any grant package: started by a client, looked up by the user
// code a person typed, approved, polled and redeemed once, then replayed.
func ExampleLifecycle() {
	ctx := context.Background()
	config := &fosite.Config{GlobalSecret: []byte("some-cool-secret-that-is-32bytes")}
	store := memory.New()
	client := &fosite.DefaultClient{ID: "tv", Public: true, GrantTypes: []string{"urn:example:grant"}, Scopes: []string{"photos"}}
	_ = store.SetClient(ctx, client)
	hmacStrategy := fcompose.NewOAuth2HMACStrategy(config)
	issuer, _ := pending.NewTokenIssuer(config, store, pending.TokenStrategies{AccessToken: hmacStrategy, RefreshToken: hmacStrategy}, nil)
	lc := &pending.Lifecycle{
		Kind: pending.KindDeviceCode, Storage: store, Codes: pending.NewCodes(config), Issuer: issuer,
		HandleParam: "device_code",
		Limiter:     &pending.Limiter{Storage: store, Scope: "example", Limits: pending.DefaultUserCodeLimits},
	}

	// The client asks.
	req := fosite.NewRequest()
	req.Client, req.RequestedScope = client, fosite.Arguments{"photos"}
	now := time.Now()
	started, _ := lc.Start(ctx, &pending.Grant{Request: req, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute), Interval: 5 * time.Second},
		pending.StartOptions{UserCode: true})

	// The client polls: pending.
	poll := func() error {
		ar := fosite.NewAccessRequest(openid.NewDefaultSession())
		ar.Client, ar.Form = client, url.Values{"device_code": {started.Handle}}
		g, _, err := lc.Poll(ctx, ar, nil)
		if err != nil {
			return err
		}
		lc.Prepare(ctx, g, "urn:example:grant", ar)
		return lc.Redeem(ctx, "urn:example:grant", ar, fosite.NewAccessResponse())
	}
	fmt.Println(fosite.ErrorToRFC6749Error(poll()).ErrorField)

	// The person types the code (any case, any dashes), and approves.
	g, err := lc.LookupUserCode(ctx, lc.Format().Display(started.UserCode), pending.Caller{Address: "192.0.2.1"})
	fmt.Println(err, g.Request.GetRequestedScopes())
	sess := openid.NewDefaultSession()
	sess.Subject = "alice"
	fmt.Println(lc.Decide(ctx, g, &pending.Decision{Approved: true, Subject: "alice", Session: sess}, nil))

	// The first redemption gets tokens; the handle presented again is a replay.
	fmt.Println(poll())
	fmt.Println(fosite.ErrorToRFC6749Error(poll()).ErrorField)
	// Output:
	// authorization_pending
	// <nil> [photos]
	// <nil>
	// <nil>
	// invalid_grant
}
