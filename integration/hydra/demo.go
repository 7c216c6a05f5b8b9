package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/ory/hydra/v2/client"
	"github.com/ory/hydra/v2/driver"
	"github.com/ory/x/sqlcon"
	"github.com/ory/x/sqlxx"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/otp"
	"github.com/fosite-contrib/grants/handler/rfc8628"
)

// DEMO: fixed users with known passwords. An operator's login app has its own user directory; Hydra
// keeps none.
type demoUser struct {
	subject, password, name, email, phone string
}

var demoUsers = map[string]demoUser{
	"alice": {"alice", "alice-password", "Alice Liddell", "alice@example.com", "+15551234567"},
	"bob":   {"bob", "bob-password", "Bob Builder", "bob@example.com", ""},
	"carol": {"carol", "carol-password", "Carol Danvers", "carol@example.com", ""},
}

// demoAccount is the OTP grant's directory: a user name, e-mail address or phone number identifies a
// demo user, whose codes go to their e-mail address and phone.
func demoAccount(_ context.Context, hint string) (*otp.Account, error) {
	for _, u := range demoUsers {
		if strings.EqualFold(hint, u.subject) || strings.EqualFold(hint, u.email) || (u.phone != "" && hint == u.phone) {
			a := &otp.Account{Subject: u.subject}
			if u.phone != "" {
				a.Destinations = append(a.Destinations, otp.Destination{Type: otp.SMS, Address: u.phone})
			}
			a.Destinations = append(a.Destinations, otp.Destination{Type: otp.Email, Address: u.email})
			return a, nil
		}
	}
	return nil, otp.ErrUnknownAccount
}

// checkPassword returns the user, comparing the password in constant time.
func checkPassword(username, password string) (demoUser, bool) {
	u, ok := demoUsers[username]
	if !ok {
		u = demoUser{password: "\x00no such user"} // compare anyway: same work for unknown names
	}
	match := subtle.ConstantTimeCompare([]byte(u.password), []byte(password)) == 1
	return u, ok && match
}

// demoClaims are the ID token claims the demo consent app grants with scopes (OpenID Connect Core
// §5.4: profile → name, email → email and email_verified).
func demoClaims(subject string, scopes []string) map[string]any {
	u, ok := demoUsers[subject]
	claims := map[string]any{}
	if !ok {
		return claims
	}
	for _, s := range scopes {
		switch s {
		case "profile":
			claims["name"] = u.name
		case "email":
			claims["email"], claims["email_verified"] = u.email, true
		}
	}
	return claims
}

// demoResolver resolves a CIBA login_hint (a user name or an e-mail address) to a demo user, whose one
// authentication device is the admin API (adminDevice).
type demoResolver struct{}

func (demoResolver) ResolveHint(_ context.Context, h ciba.Hint) (*ciba.User, error) {
	if h.Kind != ciba.HintLoginHint {
		return nil, ciba.ErrUnknownUserID
	}
	for _, u := range demoUsers {
		if strings.EqualFold(h.Value, u.subject) || strings.EqualFold(h.Value, u.email) {
			return &ciba.User{Subject: u.subject, Devices: []ciba.Device{{ID: "admin-api", Kind: "admin"}}}, nil
		}
	}
	return nil, ciba.ErrUnknownUserID
}

// adminDevice is the demo's authentication device: it only logs the request, which then waits for
// POST /admin/ciba/approve or /admin/ciba/deny. A real server pushes it to the user's phone, or sends
// a link (package linkchannel).
type adminDevice struct{ log *slog.Logger }

func (d adminDevice) Notify(ctx context.Context, n ciba.Notification) error {
	d.log.InfoContext(ctx, "CIBA request waits for a decision", "client_id", n.ClientID, "subject", n.Subject, "request_id", n.Ref)
	return nil
}

// The grant type URIs the demo clients use.
const (
	grantDevice = string(rfc8628.GrantType)
	grantCIBA   = string(ciba.GrantType)
)

// demoClients are created at start when missing (DEMO: known secrets).
func demoClients() []*client.Client {
	scope := "openid profile email offline_access"
	return []*client.Client{
		{
			ID: "demo-device", Name: "Demo TV", Scope: scope, SubjectType: "public",
			GrantTypes:              sqlxx.StringSliceJSONFormat{grantDevice, "refresh_token"},
			TokenEndpointAuthMethod: "none",
		},
		{
			ID: "demo-confidential", Name: "Demo confidential client", Secret: "demo-secret", Scope: scope, SubjectType: "public",
			GrantTypes:              sqlxx.StringSliceJSONFormat{grantDevice, "client_credentials", "refresh_token", "authorization_code"},
			ResponseTypes:           sqlxx.StringSliceJSONFormat{"code"},
			RedirectURIs:            sqlxx.StringSliceJSONFormat{"http://127.0.0.1:9999/callback"},
			TokenEndpointAuthMethod: "client_secret_basic",
		},
		{
			ID: "demo-kiosk", Name: "Hardware store kiosk", Secret: "demo-kiosk-secret", Scope: "openid profile", SubjectType: "public",
			GrantTypes:              sqlxx.StringSliceJSONFormat{string(otp.DefaultGrantType)},
			TokenEndpointAuthMethod: "client_secret_basic",
		},
		{
			ID: "demo-ciba-poll", Name: "Demo call centre", Secret: "demo-ciba-secret", Scope: scope, SubjectType: "public",
			GrantTypes:              sqlxx.StringSliceJSONFormat{grantCIBA, "refresh_token"},
			TokenEndpointAuthMethod: "client_secret_basic",
			Metadata:                sqlxx.JSONRawMessage(`{"backchannel_token_delivery_mode":"poll"}`),
		},
	}
}

// createDemoClients creates the demo clients Hydra does not have yet.
func createDemoClients(ctx context.Context, reg driver.Registry) error {
	for _, c := range demoClients() {
		_, err := reg.ClientManager().GetConcreteClient(ctx, c.ID)
		if err == nil {
			continue
		}
		if !errors.Is(err, sqlcon.ErrNoRows) {
			return fmt.Errorf("read client %s: %w", c.ID, err)
		}
		if err := reg.ClientManager().CreateClient(ctx, c); err != nil {
			return fmt.Errorf("create client %s: %w", c.ID, err)
		}
	}
	return nil
}
