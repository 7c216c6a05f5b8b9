package rfc8628_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	gt "github.com/fosite-contrib/grants/internal/grantstest"
	"github.com/fosite-contrib/grants/notify"
	"github.com/fosite-contrib/grants/notify/notifytest"
	"github.com/fosite-contrib/grants/outbox"
)

var printedKey = []byte("0123456789abcdef0123456789abcdef-printed")

// recorder is an audit.Sink that keeps the events in memory (the real Log is tested in package audit
// and in the integration tests).
type recorder struct{ events []audit.Event }

func (r *recorder) Record(_ context.Context, e audit.Event) error {
	r.events = append(r.events, e)
	return nil
}

func (r *recorder) types() []string {
	out := []string{}
	for _, e := range r.events {
		out = append(out, e.Type)
	}
	return out
}

type staffSet map[string]bool

func (s staffSet) IsStaff(_ context.Context, actor string) (bool, error) { return s[actor], nil }

type accountMap map[string]string

func (a accountMap) ResolveAccount(_ context.Context, hint string) (string, error) {
	if s, ok := a[hint]; ok {
		return s, nil
	}
	return "", rfc8628.ErrUnknownAccount
}

// kioskServer composes the device grant with the kiosk extensions.
func kioskServer(t *testing.T, configure func(*rfc8628.Options)) (*gt.Server, *recorder, *rfc8628.Kiosk) {
	rec := &recorder{}
	s := gt.New(t, func(c *rfc8628.Options) {
		c.Audit = rec
		c.Kiosk = &rfc8628.KioskOptions{
			Staff:      staffSet{"clerk-7": true},
			Accounts:   accountMap{"acct-1042": "customer-1042", "acct-2000": "customer-2000"},
			NewSession: func(_ context.Context, subject string) fosite.Session { return gt.Session(subject) },
		}
		c.ClientLifespans = map[string]rfc8628.Lifespans{
			gt.PublicClientID: {CodeLifespan: 7 * 24 * time.Hour, PickupWindow: 3 * 24 * time.Hour},
		}
		c.PrintedCodeKeys = map[string][]byte{gt.ConfidentialClientID: printedKey, gt.PublicClientID: printedKey}
		if configure != nil {
			configure(c)
		}
	})
	k := s.Device.Kiosk
	require.NotNil(t, k)
	return s, rec, k
}

func startFor(t *testing.T, s *gt.Server, clientID, hint string) *gt.DeviceResponse {
	t.Helper()
	res := s.Do(t, gt.Request{Method: http.MethodPost, Path: gt.DevicePath, Form: url.Values{"client_id": {clientID}, "scope": {"openid"}, "login_hint": {hint}}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	var d gt.DeviceResponse
	require.NoError(t, json.Unmarshal(res.Body, &d))
	return &d
}

// TestDeviceAuthorizationKioskGolden pins the wire format of the new parameters: per-client expires_in,
// printed user codes from device_serial, and the refusals.
func TestDeviceAuthorizationKioskGolden(t *testing.T) {
	t.Parallel()
	s, _, _ := kioskServer(t, nil)

	res := s.Do(t, gt.Request{Method: http.MethodPost, Path: gt.DevicePath, Form: url.Values{"client_id": {gt.PublicClientID}, "scope": {"openid"}, "login_hint": {"acct-1042"}}})
	d := res.JSON(t)
	gt.Golden(t, "device_authorization_kiosk_week", res, map[string]string{d["device_code"].(string): "<device_code>", d["user_code"].(string): "<user_code>"})

	res = s.Do(t, gt.Request{Method: http.MethodPost, Path: gt.DevicePath, Form: url.Values{"scope": {"openid"}, "device_serial": {"SN-0042"}},
		BasicUser: gt.ConfidentialClientID, BasicPassword: gt.ConfidentialSecret})
	d = res.JSON(t)
	// The user code is not replaced: it is the printed one, the same on every run.
	gt.Golden(t, "device_authorization_printed", res, map[string]string{d["device_code"].(string): "<device_code>"})

	for _, tc := range []struct {
		name string
		req  gt.Request
	}{
		{"printed_public_client", gt.Request{Method: http.MethodPost, Path: gt.DevicePath, Form: url.Values{"client_id": {gt.PublicClientID}, "device_serial": {"SN-0042"}}}},
		{"printed_no_key", gt.Request{Method: http.MethodPost, Path: gt.DevicePath, Form: url.Values{"client_id": {gt.NoRefreshClientID}, "device_serial": {"SN-0042"}}}},
		{"printed_bad_serial", gt.Request{Method: http.MethodPost, Path: gt.DevicePath, Form: url.Values{"device_serial": {"SN 42"}},
			BasicUser: gt.ConfidentialClientID, BasicPassword: gt.ConfidentialSecret}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gt.Golden(t, "device_authorization_"+tc.name, s.Do(t, tc.req), nil)
		})
	}
}

// TestPrintedUserCode: the derivation is deterministic, uses only the alphabet, depends on the key,
// the client and the serial, and spreads evenly over the alphabet.
func TestPrintedUserCode(t *testing.T) {
	t.Parallel()
	f := pending.UserCodeBase20
	a, err := rfc8628.PrintedUserCode(printedKey, f, "tv", "SN-1")
	require.NoError(t, err)
	b, err := rfc8628.PrintedUserCode(printedKey, f, "tv", "SN-1")
	require.NoError(t, err)
	require.Equal(t, a, b)
	require.Len(t, a, 8)
	require.Equal(t, a, f.Normalize(a), "only alphabet characters")
	for _, other := range [][3]string{{string(printedKey) + "x", "tv", "SN-1"}, {string(printedKey), "radio", "SN-1"}, {string(printedKey), "tv", "SN-2"}} {
		c, err := rfc8628.PrintedUserCode([]byte(other[0]), f, other[1], other[2])
		require.NoError(t, err)
		require.NotEqual(t, a, c, "%v", other)
	}
	digits, err := rfc8628.PrintedUserCode(printedKey, pending.UserCodeDigits, "tv", "SN-1")
	require.NoError(t, err)
	require.Regexp(t, `^[0-9]{9}$`, digits)

	// 20 000 serials give 160 000 characters: each of the 20 should appear 8 000 times; allow ±5%.
	counts := map[rune]int{}
	for i := 0; i < 20000; i++ {
		c, err := rfc8628.PrintedUserCode(printedKey, f, "tv", fmt.Sprintf("SN-%d", i))
		require.NoError(t, err)
		for _, r := range c {
			counts[r]++
		}
	}
	require.Len(t, counts, 20)
	for r, n := range counts {
		require.InDelta(t, 8000, n, 400, "character %c", r)
	}

	for _, tc := range []struct {
		name   string
		key    []byte
		format pending.UserCodeFormat
		serial string
	}{
		{"short key", printedKey[:31], f, "SN-1"},
		{"empty serial", printedKey, f, ""},
		{"serial with a space", printedKey, f, "SN 1"},
		{"serial too long", printedKey, f, strings.Repeat("1", 65)},
		{"bad format", printedKey, pending.UserCodeFormat{Alphabet: "AB", Length: 3}, "SN-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rfc8628.PrintedUserCode(tc.key, tc.format, "tv", tc.serial)
			require.Error(t, err)
		})
	}
}

func FuzzValidateSerial(f *testing.F) {
	for _, s := range []string{"SN-0042", "", "a b", "ä", strings.Repeat("x", 65), "../..", "A.b_c-9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, serial string) {
		err := rfc8628.ValidateSerial(serial)
		if err != nil {
			return
		}
		require.True(t, len(serial) >= 1 && len(serial) <= 64)
		require.Equal(t, url.PathEscape(serial), serial, "an accepted serial needs no escaping")
		_, err = rfc8628.PrintedUserCode(printedKey, pending.UserCodeBase20, "tv", serial)
		require.NoError(t, err)
	})
}

// TestKioskFlow: list by account (no user code), approve with the code the person reads out, bound to
// the customer with the clerk as actor; pickup window; audit events.
func TestKioskFlow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, rec, k := kioskServer(t, nil)
	d := startFor(t, s, gt.PublicClientID, "acct-1042")
	require.EqualValues(t, 7*24*3600, d.ExpiresIn)
	startFor(t, s, gt.PublicClientID, "acct-2000")
	s.Clock.Advance(time.Hour)

	list, err := k.Pending(ctx, "clerk-7", "acct-1042")
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, gt.PublicClientID, list[0].Client.GetID())
	require.Equal(t, time.Hour, list[0].Age)
	require.Equal(t, gt.UserAgent, list[0].Device.UserAgent)
	require.NotContains(t, fmt.Sprintf("%+v", list[0]), d.UserCode)

	a, err := k.Approve(ctx, rfc8628.KioskDecision{Actor: "clerk-7", LoginHint: "acct-1042", RequestID: list[0].RequestID, UserCode: d.UserCode,
		Proofing: rfc8628.Proofing{Method: "id_document", Reference: "…4711"}, RemoteAddr: "10.0.0.7"})
	require.NoError(t, err)
	require.Equal(t, s.Clock.Now().Add(3*24*time.Hour), a.ExpiresAt, "the pickup window runs from the approval")

	g, err := s.Store.GetPendingGrantByRequestID(ctx, pending.KindDeviceCode, list[0].RequestID)
	require.NoError(t, err)
	require.Equal(t, "customer-1042", g.Subject)
	require.Equal(t, "clerk-7", g.Actor)

	require.Equal(t, []string{audit.EventApproved}, rec.types())
	e := rec.events[0]
	require.Equal(t, "customer-1042", e.Subject)
	require.Equal(t, "clerk-7", e.Actor)
	require.Equal(t, audit.GrantDeviceCode, e.Grant)
	require.Equal(t, map[string]any{"method": "kiosk", "proofing": "id_document", "proofing_reference": "…4711",
		"decided_from": "10.0.0.7", "device_address": "127.0.0.1", "pickup_until": a.ExpiresAt.Unix()}, e.Data)

	s.Clock.Advance(3*24*time.Hour - time.Second)
	res := s.Poll(t, gt.PublicClientID, d.DeviceCode)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	require.Equal(t, []string{audit.EventApproved, audit.EventRedeemed}, rec.types())
	require.Equal(t, "customer-1042", rec.events[1].Subject)

	// A replay revokes, and says so in the audit log.
	res = s.Poll(t, gt.PublicClientID, d.DeviceCode)
	require.Equal(t, "invalid_grant", res.Error(t))
	require.Equal(t, []string{audit.EventApproved, audit.EventRedeemed, audit.EventRevoked}, rec.types())
	require.Equal(t, "replayed", rec.events[2].Data["reason"])
}

// TestKioskRefusals: each refusal is a clear error and changes nothing.
func TestKioskRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, rec, k := kioskServer(t, nil)
	d := startFor(t, s, gt.PublicClientID, "acct-1042")
	other := startFor(t, s, gt.PublicClientID, "acct-2000")
	list, err := k.Pending(ctx, "clerk-7", "acct-1042")
	require.NoError(t, err)
	rid := list[0].RequestID
	ok := rfc8628.KioskDecision{Actor: "clerk-7", LoginHint: "acct-1042", RequestID: rid, UserCode: d.UserCode, Proofing: rfc8628.Proofing{Method: "passport"}}

	for _, tc := range []struct {
		name   string
		mutate func(*rfc8628.KioskDecision)
		is     error
		status int
	}{
		{"not staff", func(d *rfc8628.KioskDecision) { d.Actor = "customer-1042" }, rfc8628.ErrNotStaff, http.StatusForbidden},
		{"no actor", func(d *rfc8628.KioskDecision) { d.Actor = "" }, rfc8628.ErrNotStaff, http.StatusForbidden},
		{"unknown account", func(d *rfc8628.KioskDecision) { d.LoginHint = "acct-9" }, rfc8628.ErrUnknownAccount, http.StatusBadRequest},
		{"empty account", func(d *rfc8628.KioskDecision) { d.LoginHint = " " }, rfc8628.ErrUnknownAccount, http.StatusBadRequest},
		{"no proofing", func(d *rfc8628.KioskDecision) { d.Proofing.Method = "" }, fosite.ErrInvalidRequest, http.StatusBadRequest},
		{"wrong code", func(d *rfc8628.KioskDecision) { d.UserCode = wrongCode(d.UserCode) }, rfc8628.ErrInvalidUserCode, http.StatusBadRequest},
		{"other account's code", func(d *rfc8628.KioskDecision) { d.UserCode = other.UserCode }, rfc8628.ErrInvalidUserCode, http.StatusBadRequest},
		{"other request", func(d *rfc8628.KioskDecision) { d.RequestID = "not-this-one" }, rfc8628.ErrInvalidUserCode, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dec := ok
			tc.mutate(&dec)
			_, err := k.Approve(ctx, dec)
			require.ErrorIs(t, err, tc.is)
			require.Equal(t, tc.status, fosite.ErrorToRFC6749Error(err).StatusCode())
		})
	}
	_, err = k.Pending(ctx, "customer-1042", "acct-1042")
	require.ErrorIs(t, err, rfc8628.ErrNotStaff)
	_, err = k.Pending(ctx, "clerk-7", "acct-9")
	require.ErrorIs(t, err, rfc8628.ErrUnknownAccount)
	_, err = k.Deny(ctx, rfc8628.KioskDecision{Actor: "clerk-7", LoginHint: "acct-2000", RequestID: rid})
	require.ErrorIs(t, err, rfc8628.ErrInvalidUserCode, "the request is not that account's")
	_, err = k.Deny(ctx, rfc8628.KioskDecision{Actor: "clerk-7", LoginHint: "acct-1042"})
	require.ErrorIs(t, err, fosite.ErrInvalidRequest)

	require.Empty(t, rec.events)
	require.Equal(t, "authorization_pending", s.Poll(t, gt.PublicClientID, d.DeviceCode).Error(t))
	list, err = k.Pending(ctx, "clerk-7", "acct-1042")
	require.NoError(t, err)
	require.Len(t, list, 1)

	// Wrong codes count per staff member: after the limit even the right code is refused.
	for i := 0; i < 20; i++ {
		dec := ok
		dec.UserCode = wrongCode(d.UserCode)
		_, _ = k.Approve(ctx, dec)
	}
	_, err = k.Approve(ctx, ok)
	require.ErrorIs(t, err, pending.ErrTooManyAttempts)
}

// TestExpiryAudit: the first poll that finds a grant expired records it once; AuditExpired records
// the others (never polled) once too.
func TestExpiryAudit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, rec, _ := kioskServer(t, nil)
	polled := s.StartDevice(t, gt.NoRefreshClientID, "openid")
	quiet := s.StartDevice(t, gt.NoRefreshClientID, "openid")
	before := s.Clock.Now()
	s.Clock.Advance(10 * time.Minute)
	for i := 0; i < 3; i++ {
		require.Equal(t, "expired_token", s.Poll(t, gt.NoRefreshClientID, polled.DeviceCode).Error(t))
	}
	require.Equal(t, []string{audit.EventExpired}, rec.types())
	require.Equal(t, "poll", rec.events[0].Data["observed_by"])
	require.Equal(t, "pending", rec.events[0].Data["state"])
	require.Equal(t, before.Add(10*time.Minute), rec.events[0].Time)

	n, err := rfc8628.AuditExpired(ctx, s.Store, rec, before, s.Clock.Now())
	require.NoError(t, err)
	require.Equal(t, 1, n, "only the grant no poll saw")
	require.Equal(t, "purge", rec.events[1].Data["observed_by"])
	n, err = rfc8628.AuditExpired(ctx, s.Store, rec, before, s.Clock.Now())
	require.NoError(t, err)
	require.Zero(t, n, "never twice")
	_ = quiet
}

// TestDeviceClientLifespan: a client type with its own lifetimes wins over configuration, and
// lifetimes are cut to a week.
func TestDeviceClientLifespan(t *testing.T) {
	t.Parallel()
	s, _, _ := kioskServer(t, func(c *rfc8628.Options) { c.CodeLifespan = 30 * 24 * time.Hour })
	ctx := context.Background()
	require.NoError(t, s.Store.SetClient(ctx, &rfc8628.DeviceClient{
		DefaultClient:      &fosite.DefaultClient{ID: "own", Public: true, GrantTypes: []string{string(rfc8628.GrantType)}, Scopes: gt.ClientScopes},
		DeviceCodeLifespan: time.Hour,
	}))
	require.EqualValues(t, 3600, s.StartDevice(t, "own", "openid").ExpiresIn)
	require.EqualValues(t, 7*24*3600, s.StartDevice(t, gt.NoRefreshClientID, "openid").ExpiresIn, "cut to a week")
}

var errSMTPDown = errors.New("smtp down")

// alertServer composes the device grant with alerts sent by sender (or queued in the outbox).
func alertServer(t *testing.T, sender notify.Sender, queue bool) (*gt.Server, *recorder, *outbox.Worker) {
	s, rec, _ := kioskServer(t, func(c *rfc8628.Options) {
		c.Alerts = &rfc8628.AlertOptions{
			Sender: sender, DeactivateURL: "https://as.example.com/device/deactivate",
			Recipients: rfc8628.AlertRecipientsFunc(func(_ context.Context, subject string) (notify.Channel, string, error) {
				if subject == "nobody" {
					return "", "", nil
				}
				if subject == "broken" {
					return "", "", errors.New("directory down")
				}
				return notify.Email, subject + "@example.com", nil
			}),
		}
	})
	var w *outbox.Worker
	if queue {
		sealer, err := outbox.NewSealer(s.Config.GlobalSecret)
		require.NoError(t, err)
		s.Device.Alerter.Outbox = &outbox.Queue{Storage: s.Store, Sealer: sealer, Now: s.Clock.Now}
		w = &outbox.Worker{Storage: s.Store, Sealer: sealer, Deliverer: outbox.Notify{Sender: sender}, Now: s.Clock.Now}
	}
	return s, rec, w
}

func linkFrom(t *testing.T, text string) string {
	t.Helper()
	i := strings.Index(text, "https://as.example.com/device/deactivate?token=")
	require.GreaterOrEqual(t, i, 0, text)
	u, err := url.Parse(strings.Fields(text[i:])[0])
	require.NoError(t, err)
	return u.Query().Get("token")
}

// TestAlertThroughOutbox: with an outbox, the alert is queued with the approval and a worker delivers
// it to a real SMTP server; the link deactivates once.
func TestAlertThroughOutbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	smtp := notifytest.NewSMTPServer(t)
	sender, err := notify.NewSMTP(smtp.Config())
	require.NoError(t, err)
	s, rec, w := alertServer(t, sender, true)
	d := s.StartDevice(t, gt.PublicClientID, "openid offline_access")
	_, err = s.Device.Verifier.Approve(ctx, d.UserCode, pending.Caller{Address: "192.0.2.1"}, pending.Decision{Subject: "alice", Session: gt.Session("alice")})
	require.NoError(t, err)
	require.Empty(t, smtp.Mails(), "queued, not sent yet")
	n, err := w.DrainOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	m := smtp.Next(t)
	require.Equal(t, []string{"alice@example.com"}, m.To)
	token := linkFrom(t, strings.ReplaceAll(strings.ReplaceAll(string(m.Raw), "=\r\n", ""), "=3D", "="))

	res := s.Poll(t, gt.PublicClientID, d.DeviceCode)
	require.Equal(t, http.StatusOK, res.Status)
	access := res.String(t, "access_token")
	_, _, err = s.Provider.IntrospectToken(ctx, access, fosite.AccessToken, gt.Session(""))
	require.NoError(t, err)

	dd, err := s.Device.Alerter.Deactivate(ctx, token)
	require.NoError(t, err)
	require.Equal(t, "alice", dd.Subject)
	_, _, err = s.Provider.IntrospectToken(ctx, access, fosite.AccessToken, gt.Session(""))
	require.Error(t, err, "revoked")
	_, err = s.Device.Alerter.Deactivate(ctx, token)
	require.ErrorIs(t, err, rfc8628.ErrLinkUsed)
	require.Equal(t, []string{audit.EventApproved, audit.EventRedeemed, audit.EventFlagged}, rec.types())
}

// TestAlertSendFailure: when the message cannot be sent directly, the approval stands and the caller
// learns the alert failed; a user without an address gets no message and no error.
func TestAlertSendFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	failing := notify.SenderFunc(func(context.Context, notify.Message) error { return errSMTPDown })
	s, _, _ := alertServer(t, failing, false)
	d := s.StartDevice(t, gt.PublicClientID, "openid")
	a, err := s.Device.Verifier.Approve(ctx, d.UserCode, pending.Caller{Address: "192.0.2.1"}, pending.Decision{Subject: "alice", Session: gt.Session("alice")})
	require.ErrorIs(t, err, rfc8628.ErrAlertFailed)
	require.NotNil(t, a)
	require.Equal(t, http.StatusOK, s.Poll(t, gt.PublicClientID, d.DeviceCode).Status, "the approval stands")

	d = s.StartDevice(t, gt.PublicClientID, "openid")
	_, err = s.Device.Verifier.Approve(ctx, d.UserCode, pending.Caller{Address: "192.0.2.1"}, pending.Decision{Subject: "nobody", Session: gt.Session("nobody")})
	require.NoError(t, err)

	// When the alert cannot even be written (the directory fails), nothing is approved.
	d = s.StartDevice(t, gt.PublicClientID, "openid")
	a, err = s.Device.Verifier.Approve(ctx, d.UserCode, pending.Caller{Address: "192.0.2.1"}, pending.Decision{Subject: "broken", Session: gt.Session("broken")})
	require.Error(t, err)
	require.NotErrorIs(t, err, rfc8628.ErrAlertFailed)
	require.Nil(t, a)
	require.Equal(t, "authorization_pending", s.Poll(t, gt.PublicClientID, d.DeviceCode).Error(t))
}

// TestDeactivationLinks: forged, altered, expired, someone else's and reused links are refused and
// change nothing.
func TestDeactivationLinks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	out := notify.NewOutbox(10)
	s, _, _ := alertServer(t, out, false)
	al := s.Device.Alerter
	d := s.StartDevice(t, gt.PublicClientID, "openid")
	a, err := s.Device.Verifier.Approve(ctx, d.UserCode, pending.Caller{Address: "192.0.2.1"}, pending.Decision{Subject: "alice", Session: gt.Session("alice")})
	require.NoError(t, err)
	token := linkFrom(t, out.Messages()[0].Text)
	exp := s.Clock.Now().Add(7 * 24 * time.Hour)

	forged, err := (&rfc8628.Alerter{Config: &fosite.Config{GlobalSecret: []byte("another-secret-another-secret-32")}}).LinkToken(ctx, a.RequestID, "alice", exp)
	require.NoError(t, err)
	bobs, err := al.LinkToken(ctx, a.RequestID, "bob", exp)
	require.NoError(t, err)
	parts := strings.Split(token, ".")
	for _, tc := range []struct{ name, token string }{
		{"empty", ""},
		{"garbage", "not a token"},
		{"other key", forged},
		{"someone else's subject", bobs},
		{"altered expiry", strings.Join([]string{parts[0], parts[1], parts[2], "9999999999", parts[4]}, ".")},
		{"altered MAC", strings.Join([]string{parts[0], parts[1], parts[2], parts[3], "AAAA"}, ".")},
		{"other version", "v2." + strings.Join(parts[1:], ".")},
		{"too long", strings.Repeat("a", 2000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := al.Deactivate(ctx, tc.token)
			require.ErrorIs(t, err, rfc8628.ErrInvalidLink)
			require.Equal(t, http.StatusBadRequest, fosite.ErrorToRFC6749Error(err).StatusCode())
		})
	}
	s.Clock.Advance(7 * 24 * time.Hour)
	_, err = al.Deactivate(ctx, token)
	require.ErrorIs(t, err, rfc8628.ErrInvalidLink, "expired")
	g, err := s.Store.GetPendingGrantByRequestID(ctx, pending.KindDeviceCode, a.RequestID)
	require.NoError(t, err)
	require.Equal(t, pending.StateApproved, g.State)

	// DeactivateFor: only the subject's own grants.
	_, err = al.DeactivateFor(ctx, "bob", a.RequestID)
	require.ErrorIs(t, err, fosite.ErrNotFound)
	_, err = al.DeactivateFor(ctx, "alice", a.RequestID)
	require.NoError(t, err)
}

func FuzzParseLinkToken(f *testing.F) {
	al := &rfc8628.Alerter{Config: &fosite.Config{GlobalSecret: []byte("0123456789abcdef0123456789abcdef")}}
	now := time.Unix(1_700_000_000, 0)
	good, err := al.LinkToken(context.Background(), "req-1", "alice", now.Add(time.Hour))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{good, "", "v1....", "v1.a.b.c.d", good + "x", strings.Replace(good, "v1", "v2", 1)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		rid, sub, _, err := al.ParseLinkToken(context.Background(), token, now)
		if err != nil {
			require.ErrorIs(t, err, rfc8628.ErrInvalidLink)
			return
		}
		// Only a token the server made is accepted.
		again, err := al.LinkToken(context.Background(), rid, sub, now.Add(time.Hour))
		require.NoError(t, err)
		require.Equal(t, again, token)
	})
}
