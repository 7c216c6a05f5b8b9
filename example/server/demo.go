package server

import (
	"context"
	"crypto/subtle"
	"sync"

	"github.com/ory/fosite"
)

// DEMO: fixed users with a known password. A real server asks its user directory.
type demoUser struct {
	Subject, Name, Email, Password string
}

var demoUsers = map[string]demoUser{
	"alice": {Subject: "alice", Name: "Alice Liddell", Email: "alice@example.com", Password: "alice-password"},
	"bob":   {Subject: "bob", Name: "Bob Builder", Email: "bob@example.com", Password: "bob-password"},
	"carol": {Subject: "carol", Name: "Carol Danvers", Email: "carol@example.com", Password: "carol-password"},
}

// checkPassword checks a demo user's password in constant time.
func checkPassword(username, password string) (demoUser, bool) {
	u, ok := demoUsers[username]
	if !ok {
		// Compare anyway, so a wrong name takes as long as a wrong password.
		subtle.ConstantTimeCompare([]byte(password), []byte("not-a-user-password"))
		return demoUser{}, false
	}
	return u, subtle.ConstantTimeCompare([]byte(password), []byte(u.Password)) == 1
}

var demoScopes = []string{"openid", "profile", "email", "offline_access"}

// scopeDescriptions are the plain-language descriptions shown on consent pages.
var scopeDescriptions = map[string]string{
	"openid":         "Confirm who you are",
	"profile":        "See your name",
	"email":          "See your e-mail address",
	"offline_access": "Keep access while you are away",
}

// DemoConfidentialSecret is demo-confidential's client secret. DEMO: published in the README.
const DemoConfidentialSecret = "demo-secret"

// demoConfidentialHash is bcrypt(cost 10) of DemoConfidentialSecret, computed once.
var demoConfidentialHash = sync.OnceValues(func() ([]byte, error) {
	return (&fosite.BCrypt{Config: &fosite.Config{HashCost: 10}}).Hash(context.Background(), []byte(DemoConfidentialSecret))
})

// registerDemoClients writes the demo clients; registering again replaces them, so restarts are idempotent.
func registerDemoClients(ctx context.Context, store Store) error {
	hash, err := demoConfidentialHash()
	if err != nil {
		return err
	}
	clients := []fosite.Client{
		// A TV or CLI: public, no secret, device grant.
		&fosite.DefaultClient{
			ID:         "demo-device",
			Public:     true,
			GrantTypes: []string{"urn:ietf:params:oauth:grant-type:device_code", "refresh_token"},
			Scopes:     withChoiceScopes(demoScopes), // also "photos" and "health", which carry a choice
		},
		// A confidential client that may use client_secret_basic or client_secret_post (a plain
		// DefaultClient accepts both; an OpenIDConnectClient pins one method).
		&fosite.DefaultClient{
			ID:            "demo-confidential",
			Secret:        hash,
			GrantTypes:    []string{"urn:ietf:params:oauth:grant-type:device_code", "client_credentials", "refresh_token", "authorization_code"},
			ResponseTypes: []string{"code"},
			RedirectURIs:  []string{"http://127.0.0.1:9999/callback"},
			Scopes:        withChoiceScopes(demoScopes),
		},
	}
	for _, c := range clients {
		if err := store.SetClient(ctx, c); err != nil {
			return err
		}
	}
	return nil
}
