package server

import (
	"context"
	"errors"
	"net/http"
	"net/netip"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/secevent"
)

// This file wires the cross-device security policies of RFC 10027 (see the README's "Cross-device
// security"): each grant gets the library's defaults (rate limits, burned codes) plus what the
// operator turned on here — a GeoIP locator for the approval pages, approvals refused across
// networks, security event receivers told of every flagged grant — and the admin API can flag a grant.

// PolicyOptions configure the cross-device security policies of the device grant, CIBA and OTP.
type PolicyOptions struct {
	// Locator places addresses on the approval pages and in the proximity check (a geoip.Locator);
	// nil: network prefixes only.
	Locator pending.Locator
	// RefuseAcrossNetworks refuses approvals made from another network than the request's.
	RefuseAcrossNetworks bool
	// SecurityEventReceivers each get a Security Event Token (RFC 8417) for every flagged grant,
	// pushed through the outbox (RFC 8935). Needs a store with an outbox (both of this module's do).
	SecurityEventReceivers []secevent.Receiver
	// Device, CIBA and OTP are each grant's own policy; their zero fields take the library's defaults,
	// and the options above are added to each.
	Device, CIBA, OTP pending.Policy
}

// policy is base with the server-wide options added.
func (s *Server) policy(base pending.Policy) pending.Policy {
	o := s.opts.Policy
	if base.Locator == nil {
		base.Locator = o.Locator
	}
	base.RefuseAcrossNetworks = base.RefuseAcrossNetworks || o.RefuseAcrossNetworks
	if base.Events == nil && s.events != nil {
		base.Events = s.events
	}
	return base
}

// setupSecurityEvents makes the SET transmitter when receivers are configured. The SETs are signed
// with the server's signing key, which the JWKS publishes.
func (s *Server) setupSecurityEvents() error {
	if len(s.opts.Policy.SecurityEventReceivers) == 0 {
		return nil
	}
	if s.queue == nil {
		return errors.New("example: security event receivers need a store with an outbox")
	}
	t, err := secevent.New(secevent.Options{
		Issuer:        s.opts.Issuer,
		Key:           jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: s.key, KeyID: s.keyID, Algorithm: string(jose.RS256), Use: "sig"}},
		Receivers:     s.opts.Policy.SecurityEventReceivers,
		Queue:         s.queue,
		AllowLoopback: s.opts.Dev,
		Now:           s.opts.Now,
	})
	if err != nil {
		return err
	}
	s.events = kickingEvents{t, s}
	return nil
}

// kickingEvents wakes the outbox worker after an announcement, so the SETs leave at once rather than
// at the worker's next poll. (The wake-up may come before the flag's transaction commits; the worker's
// poll then delivers them.)
type kickingEvents struct {
	*secevent.Transmitter
	s *Server
}

func (k kickingEvents) Announce(ctx context.Context, r pending.Remediation) error {
	if err := k.Transmitter.Announce(ctx, r); err != nil {
		return err
	}
	k.s.kick()
	return nil
}

func (s *Server) policyRoutes(m *http.ServeMux) {
	m.HandleFunc("POST /admin/flag", s.admin(s.adminFlag))
}

// adminFlag flags a grant as abused (form: grant = device, ciba or otp; request_id; optional reason,
// default "administrator"): a pending one is denied, an approved or redeemed one ended and its tokens
// revoked, the flag audited and announced to the security event receivers.
func (s *Server) adminFlag(rw http.ResponseWriter, r *http.Request) {
	id, reason := r.PostFormValue("request_id"), r.PostFormValue("reason")
	if id == "" {
		writeRFCError(rw, fosite.ErrInvalidRequest.WithHint("The 'request_id' parameter is missing."))
		return
	}
	switch reason {
	case "":
		reason = pending.ReasonAdministrator
	case pending.ReasonAdministrator, pending.ReasonStaff, pending.ReasonReported:
	default:
		writeRFCError(rw, fosite.ErrInvalidRequest.WithHint("The 'reason' must be administrator, staff or reported."))
		return
	}
	var flag func(ctx context.Context, requestID, reason, by string) error
	switch r.PostFormValue("grant") {
	case "device":
		flag = s.deviceGrant.Flag
	case "ciba":
		flag = s.cibaGrant.Flag
	case "otp":
		flag = s.otpGrant.Flag
	default:
		writeRFCError(rw, fosite.ErrInvalidRequest.WithHint("The 'grant' must be device, ciba or otp."))
		return
	}
	if err := flag(r.Context(), id, reason, "admin"); errors.Is(err, pending.ErrNotFound) {
		writeJSON(rw, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "No request of that grant has that ID."})
		return
	} else if err != nil {
		writeRFCError(rw, err)
		return
	}
	writeJSON(rw, http.StatusOK, map[string]any{"flagged": true, "request_id": id, "reason": reason})
}

// placeWords describe where a request came from and how that compares with the viewer: the place
// (when a locator knows it) and a note when the networks differ.
type placeWords struct {
	// Place is the requester's place in words ("Munich, Germany, Deutsche Telekom"); "" when unknown.
	Place string
	// OtherNetwork is true when the requester and the viewer are on different networks.
	OtherNetwork bool
}

// describeProximity turns a pending.Proximity into words for the pages.
func describeProximity(p pending.Proximity, requester string) placeWords {
	w := placeWords{Place: p.Requester.String()}
	if org := p.Requester.Organization; org != "" {
		if w.Place != "" {
			w.Place += ", "
		}
		w.Place += org
	}
	if a, err := netip.ParseAddr(requester); err == nil && a.IsValid() {
		w.OtherNetwork = !p.SameNetwork
	}
	return w
}

// policyMessage says in a person's words why a policy refused an approval, or ok=false.
func policyMessage(err error) (pageError, bool) {
	switch {
	case errors.Is(err, pending.ErrAcrossNetworks):
		return pageError{
			What: "This request came from another network than the one you are on, and this server only accepts approvals from the same place.",
			Next: "Approve it from the network of the device that asked (for example its Wi-Fi), or deny it if you did not start it.",
		}, true
	case errors.Is(err, ciba.ErrOtherAccount):
		return pageError{
			What: "This request is for another account than the one you are signed in with.",
			Next: "Sign out, then sign in with the account the app asked for. If you did not start this, ignore it.",
		}, true
	}
	return pageError{}, false
}
