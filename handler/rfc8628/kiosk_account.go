package rfc8628

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// A person names their account in many ways: "alice", "alice@example.com", "Alice@Example.com", an
// account number. The staffed kiosk must show staff every pending request of the account, whichever way
// the device named it (IETF OAuth list, "device flow at a staffed kiosk": "the kiosk staff can look up
// the pending requests for the account"). So when the grant has a kiosk, the device authorization
// endpoint resolves the device's login_hint through the same directory the kiosk uses
// (KioskOptions.Accounts) and stores the account's subject as the grant's LoginHint, with the hint as
// sent in Extra[ExtraLoginHint]; the kiosk resolves what staff type the same way and lists by the
// subject. A hint that names no account is stored as sent (the device is not told either way).

// ExtraLoginHint is the pending.Grant Extra key of the login_hint as the device sent it, when the
// grant's LoginHint holds the subject of the account the hint names.
const ExtraLoginHint = "login_hint"

// storedLoginHint returns what the grant keeps of a device's login_hint: the account's subject (and
// the hint as sent, in extra) when the kiosk's directory knows it, else the hint as sent.
func (e *DeviceAuthorizationEndpoint) storedLoginHint(ctx context.Context, hint string) (string, map[string]string, error) {
	k := e.options.Kiosk
	if hint == "" || k == nil || k.Accounts == nil || strings.TrimSpace(hint) == "" {
		return hint, nil, nil
	}
	subject, err := k.Accounts.ResolveAccount(ctx, hint)
	switch {
	case errors.Is(err, ErrUnknownAccount) || (err == nil && subject == ""):
		return hint, nil, nil
	case err != nil:
		return "", nil, rfc6749.ServerError(err)
	}
	return subject, map[string]string{ExtraLoginHint: hint}, nil
}

// withExtra returns extra merged into g's Extra.
func withExtra(g *pending.Grant, extra map[string]string) {
	if len(extra) == 0 {
		return
	}
	if g.Extra == nil {
		g.Extra = map[string]string{}
	}
	maps.Copy(g.Extra, extra)
}

// sentLoginHint returns the login_hint the device sent.
func sentLoginHint(g *pending.Grant) string {
	if h, ok := g.Extra[ExtraLoginHint]; ok {
		return h
	}
	return g.LoginHint
}

// ofAccount reports whether g is a request of the account subject, which staff looked up as typed:
// stored under the subject, or (stored before hints were resolved, or when the directory did not know
// the hint then) under exactly what staff typed.
func ofAccount(g *pending.Grant, subject, typed string) bool {
	return g.LoginHint != "" && (g.LoginHint == subject || g.LoginHint == typed)
}

// mergeByCreation returns the grants of a and b, each once, oldest first (both are oldest first).
func mergeByCreation(a, b []*pending.Grant) []*pending.Grant {
	seen := make(map[string]bool, len(a))
	for _, g := range a {
		seen[g.HandleSignature] = true
	}
	out := append([]*pending.Grant(nil), a...)
	for _, g := range b {
		if !seen[g.HandleSignature] {
			out = append(out, g)
		}
	}
	slices.SortStableFunc(out, func(x, y *pending.Grant) int { return x.CreatedAt.Compare(y.CreatedAt) })
	return out
}
