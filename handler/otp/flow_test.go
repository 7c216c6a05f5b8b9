package otp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	josejwt "github.com/go-jose/go-jose/v3/jwt"
	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/handler/otp"
	gt "github.com/fosite-contrib/grants/internal/grantstest"
	"github.com/fosite-contrib/grants/notify"
)

// TestKioskStory walks the seed's story: a customer at a kiosk types their service address, picks a
// text message, reads the code and types it; the kiosk gets tokens for what the message described.
func TestKioskStory(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			kioskStory(t, newFixtureOn(t, b.open(t), nil))
		})
	}
}

func kioskStory(t *testing.T, f *fixture) {

	res := f.challenge(kioskID, url.Values{"login_hint": {"1 Main St"}, "scope": {"openid usage:read offline_access"}})
	require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
	var c otp.ChallengeResponse
	require.NoError(t, json.Unmarshal(res.Body, &c))
	gt.Golden(t, "challenge_identify", res, map[string]string{c.OOBCode: "<oob_code>"})
	require.Equal(t, []otp.Channel{
		{ID: "sms-1", Type: otp.SMS, Destination: "***-***-4567"},
		{ID: "email-1", Type: otp.Email, Destination: "a***@e***.com"},
	}, c.Channels)
	require.EqualValues(t, 300, c.ExpiresIn)
	require.Empty(t, f.outbox.Messages(), "nothing is sent before the person picks a channel")

	// fosite checks auth_time against its own time.Now: the injected clock stays within seconds of it.
	f.clock.Advance(3 * time.Second)
	res = f.challenge(kioskID, url.Values{"oob_code": {c.OOBCode}, "channel": {"sms-1"}})
	require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
	gt.Golden(t, "challenge_send", res, map[string]string{c.OOBCode: "<oob_code>"})

	code, msg := f.lastCode()
	require.Len(t, code, 6)
	require.Equal(t, notify.SMS, msg.Channel)
	require.Equal(t, "+15551234567", msg.To)
	for _, want := range []string{"kiosk", "See your energy use", "Confirm who you are", "expires in 4 min", "Never share it"} {
		require.Contains(t, msg.Text, want)
	}

	res = f.redeem(kioskID, c.OOBCode, code[:3]+" "+code[3:]) // people type spaces
	require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
	tok := res.JSON(t)
	gt.Golden(t, "token_success", res, map[string]string{
		tok["access_token"].(string): "<access_token>", tok["refresh_token"].(string): "<refresh_token>", tok["id_token"].(string): "<id_token>",
	})
	require.Equal(t, "openid usage:read offline_access", tok["scope"])

	// The ID token names the account the address resolved to, and how the person proved it.
	idt, err := josejwt.ParseSigned(tok["id_token"].(string))
	require.NoError(t, err)
	var claims struct {
		Sub      string   `json:"sub"`
		Aud      []string `json:"aud"`
		AMR      []string `json:"amr"`
		AuthTime int64    `json:"auth_time"`
	}
	require.NoError(t, idt.Claims(&gt.Key(t).PublicKey, &claims))
	require.Equal(t, "alice", claims.Sub)
	require.Equal(t, []string{kioskID}, claims.Aud)
	require.Equal(t, []string{"otp", "sms"}, claims.AMR)
	require.Equal(t, f.clock.Now().Unix(), claims.AuthTime)

	// The code is single use; presenting it again is invalid_grant.
	res = f.redeem(kioskID, c.OOBCode, code)
	require.Equal(t, http.StatusBadRequest, res.Status)
	gt.Golden(t, "token_used", res, nil)

	// Audit: one send, one redemption, one replay; no code anywhere.
	evs := f.events()
	require.Len(t, evs, 3)
	require.Equal(t, audit.EventOTPSent, evs[0].Type)
	require.Equal(t, "alice", evs[0].Subject)
	require.Equal(t, "sms", evs[0].Data["channel"])
	require.Equal(t, "***-***-4567", evs[0].Data["destination"])
	require.Equal(t, true, evs[0].Data["delivered"])
	require.Equal(t, audit.EventRedeemed, evs[1].Type)
	require.Equal(t, "alice", evs[1].Subject)
	require.Equal(t, audit.EventRevoked, evs[2].Type, "a replay is audited as the revocation it causes, as by every grant")
	require.Equal(t, "replayed", evs[2].Data["reason"])
	require.Equal(t, audit.GrantOTP, evs[2].Grant)
	for _, r := range mustRecords(t, f) {
		require.NotContains(t, r, code)
	}
	require.Contains(t, f.logs.String(), "replayed", "the log has the replay")
	require.NotContains(t, f.logs.String(), code, "and never a code")
	require.NotContains(t, f.logs.String(), c.OOBCode)
}

func mustRecords(t *testing.T, f *fixture) []string {
	var out []string
	for _, e := range f.events() {
		b, err := json.Marshal(e)
		require.NoError(t, err)
		out = append(out, string(b))
	}
	return out
}

func TestIdentifyAndSendInOneCall(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	res := f.challenge(kioskID, url.Values{"login_hint": {"ACCT-1001"}, "scope": {"usage:read"}, "channel_hint": {"email"}})
	require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
	var c otp.ChallengeResponse
	require.NoError(t, json.Unmarshal(res.Body, &c))
	gt.Golden(t, "challenge_identify_and_send", res, map[string]string{c.OOBCode: "<oob_code>"})
	require.Equal(t, "email-1", c.Channel)

	code, msg := f.lastCode()
	require.Equal(t, notify.Email, msg.Channel)
	require.Equal(t, "alice@example.com", msg.To)
	require.Equal(t, "Your code for kiosk: "+code, msg.Subject)
	require.Contains(t, msg.HTML, code)
	require.Contains(t, msg.Text, "Never share this code")

	res = f.redeem(kioskID, c.OOBCode, code)
	require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
	tok := res.JSON(t)
	require.Nil(t, tok["refresh_token"], "no refresh scope was asked for")
	require.Nil(t, tok["id_token"], "openid was not asked for")
}

func TestLocalisedMessage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	t.Run("ui_locales", func(t *testing.T) {
		c := f.identify("1 Main St", "usage:read")
		res := f.challenge(kioskID, url.Values{"oob_code": {c.OOBCode}, "channel": {"sms-1"}})
		require.Equal(t, http.StatusOK, res.Status)
		// The locale of step 1 is kept for later sends.
		_, msg := f.lastCode()
		require.Equal(t, "en", msg.Locale)

		res = f.challenge(kioskID, url.Values{"login_hint": {"1 Main St"}, "scope": {"usage:read"}, "ui_locales": {"de-CH en"}, "channel_hint": {"sms"}})
		require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
		_, msg = f.lastCode()
		require.Equal(t, "de", msg.Locale)
		require.Contains(t, msg.Text, "Geben Sie ihn nie weiter")
	})
	t.Run("account locale", func(t *testing.T) {
		res := f.challenge(kioskID, url.Values{"login_hint": {"acct-2002"}, "channel_hint": {"email-1"}})
		require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
		_, msg := f.lastCode()
		require.Equal(t, "de", msg.Locale)
		require.Equal(t, "bob@example.org", msg.To)
		require.True(t, strings.HasPrefix(msg.Subject, "Ihr Code für kiosk"), msg.Subject)
	})
}

func TestOnlyTheLatestCodeIsValid(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := f.identify("1 Main St", "usage:read")
	f.send(c.OOBCode, "sms-1")
	first, _ := f.lastCode()

	// Too soon: slow_down, and nothing is sent.
	f.clock.Advance(29 * time.Second)
	res := f.challenge(kioskID, url.Values{"oob_code": {c.OOBCode}, "channel": {"email-1"}})
	require.Equal(t, http.StatusBadRequest, res.Status)
	gt.Golden(t, "challenge_slow_down", res, nil)
	require.Len(t, f.outbox.Messages(), 1)

	f.clock.Advance(time.Second)
	sent := f.send(c.OOBCode, "email-1")
	require.EqualValues(t, 300-30, sent.ExpiresIn, "a resend does not extend the challenge")
	second, _ := f.lastCode()
	if first == second {
		t.Skip("the two random codes are equal (one chance in a million)")
	}
	res = f.redeem(kioskID, c.OOBCode, first)
	require.Equal(t, http.StatusBadRequest, res.Status)
	require.Equal(t, "invalid_grant", res.Error(t))
	res = f.redeem(kioskID, c.OOBCode, second)
	require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)

	// The ID token records the channel of the code that was used: e-mail, so no "sms".
	require.Len(t, f.events(), 3)
}

func TestLockoutAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		hint string
	}{
		{"real account", "1 Main St"},
		{"decoy", "9 Nowhere Lane"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixtureOn(t, backends[1].open(t), nil) // SQLite: the lockout is a conditional UPDATE
			c := f.identify(tc.hint, "usage:read")
			f.send(c.OOBCode, "sms-1")
			right := "000000"
			if tc.hint == "1 Main St" {
				right, _ = f.lastCode()
			}
			wrong := "999999"
			if right == wrong {
				wrong = "999998"
			}
			var bodies []string
			for i := 1; i <= 5; i++ {
				res := f.redeem(kioskID, c.OOBCode, wrong)
				require.Equal(t, http.StatusBadRequest, res.Status)
				require.Equal(t, "invalid_grant", res.Error(t))
				bodies = append(bodies, string(res.Body))
				if i == 1 {
					gt.Golden(t, "token_wrong_code", res, nil)
				}
			}
			require.Contains(t, bodies[3], "1 attempt is left")
			for i, left := range []float64{4, 3, 2, 1} {
				var body map[string]any
				require.NoError(t, json.Unmarshal([]byte(bodies[i]), &body))
				require.Equal(t, left, body[otp.AttemptsLeftParameter], "wrong code %d", i+1)
			}
			require.NotContains(t, bodies[4], otp.AttemptsLeftParameter, "a locked-out challenge has no attempts left to count")
			require.Contains(t, bodies[4], "this challenge is closed")
			res := f.redeem(kioskID, c.OOBCode, right)
			require.Equal(t, http.StatusBadRequest, res.Status, "the right code after five wrong ones is refused")
			gt.Golden(t, "token_locked_out", res, nil)

			// A dead challenge sends no more codes.
			f.clock.Advance(time.Minute)
			res = f.challenge(kioskID, url.Values{"oob_code": {c.OOBCode}, "channel": {"sms-1"}})
			require.Equal(t, http.StatusBadRequest, res.Status)
			require.Equal(t, "invalid_grant", res.Error(t))

			evs := f.events()
			require.Equal(t, audit.EventOTPLockout, evs[len(evs)-1].Type)
			require.EqualValues(t, 5, evs[len(evs)-1].Data["attempts"])
		})
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := f.identify("1 Main St", "usage:read")
	f.send(c.OOBCode, "sms-1")
	code, _ := f.lastCode()
	f.clock.Advance(5 * time.Minute)

	res := f.redeem(kioskID, c.OOBCode, code)
	require.Equal(t, http.StatusBadRequest, res.Status)
	gt.Golden(t, "token_expired", res, nil)
	res = f.challenge(kioskID, url.Values{"oob_code": {c.OOBCode}, "channel": {"sms-1"}})
	require.Equal(t, http.StatusBadRequest, res.Status)
	gt.Golden(t, "challenge_expired", res, nil)
}

// TestSendQuota: sends per identifier are limited, visibly (429 with Retry-After), and the window
// ends the limit.
func TestSendQuota(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *otp.Options) {
		c.Quotas = otp.Quotas{PerIdentifier: 2, Window: 10 * time.Minute}
		c.ResendInterval = time.Second
	})
	c := f.identify("1 Main St", "usage:read")
	f.send(c.OOBCode, "sms-1")
	f.clock.Advance(time.Second)
	c2 := f.identify("1 main st", "usage:read") // the same identifier, typed differently
	f.send(c2.OOBCode, "sms-1")
	f.clock.Advance(time.Second)
	res := f.challenge(kioskID, url.Values{"oob_code": {c.OOBCode}, "channel": {"sms-1"}})
	require.Equal(t, http.StatusTooManyRequests, res.Status)
	require.Equal(t, "600", res.Header.Get("Retry-After"))
	gt.Golden(t, "challenge_quota", res, nil)
	require.Len(t, f.outbox.Messages(), 2)

	// The window passes; sending works again.
	f.clock.Advance(10 * time.Minute)
	c3 := f.identify("1 Main St", "usage:read")
	f.send(c3.OOBCode, "sms-1")
}

// TestQuotasRevealNothing plays the oracle of issue 14: sends through one of a person's identifiers
// must not change the answers to sends through another, so that nobody learns which identifiers belong
// to one person; the per-person limit still holds, silently.
func TestQuotasRevealNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *otp.Options) {
		c.Quotas = otp.Quotas{PerIdentifier: 5, PerPerson: 7, Window: time.Hour}
		c.ResendInterval = time.Second
	})
	sendVia := func(hint string) *gt.Response {
		c := f.identify(hint, "usage:read")
		f.clock.Advance(time.Second)
		return f.challenge(kioskID, url.Values{"oob_code": {c.OOBCode}, "channel": {"sms-1"}})
	}
	// Five sends through "1 Main St" use its quota up: the sixth is refused, visibly.
	for range 5 {
		require.Equal(t, http.StatusOK, sendVia("1 Main St").Status)
	}
	require.Equal(t, http.StatusTooManyRequests, sendVia("1 Main St").Status)
	require.Len(t, f.outbox.Messages(), 5)

	// Another identifier of alice's answers exactly as an identifier of nobody: same status, same
	// headers, same body shape.
	same, nobody := sendVia("ACCT-1001"), sendVia("ACCT-9999")
	require.Equal(t, http.StatusOK, same.Status)
	require.Equal(t, nobody.Status, same.Status)
	require.Equal(t, shape(t, nobody.Body), shape(t, same.Body))
	require.Equal(t, headerNames(nobody.Header), headerNames(same.Header))
	require.Len(t, f.outbox.Messages(), 6, "alice's sixth code went out: she is under her per-person limit")

	// Past the per-person limit (7), sends through yet another of her identifiers still answer 200, as
	// for nobody, but nothing reaches her phone; the audit trail says why.
	require.Equal(t, http.StatusOK, sendVia("alice@example.com").Status)
	require.Len(t, f.outbox.Messages(), 7)
	res := sendVia("+15551234567")
	require.Equal(t, http.StatusOK, res.Status)
	require.Equal(t, shape(t, nobody.Body), shape(t, res.Body))
	require.Len(t, f.outbox.Messages(), 7, "over the per-person limit nothing is sent")
	evs := f.events()
	last := evs[len(evs)-1]
	require.Equal(t, audit.EventOTPSent, last.Type)
	require.Equal(t, "alice", last.Subject)
	require.Equal(t, false, last.Data["delivered"])
	require.Equal(t, "per_person_quota", last.Data["suppressed"])
}

// TestAnswerDoesNotWaitForDelivery: the send step answers before the Sender is done, so a real send,
// a decoy's and a suppressed one cost the client the same time (no timing oracle). The Sender here
// blocks until the test has the answer.
func TestAnswerDoesNotWaitForDelivery(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	blocking := &blockingSender{release: release}
	f := newFixture(t, func(c *otp.Options) { c.Sender = blocking })
	c := f.identify("1 Main St", "usage:read")
	res := f.do(challengePath, kioskID, url.Values{"oob_code": {c.OOBCode}, "channel": {"sms-1"}})
	require.Equal(t, http.StatusOK, res.Status, "the answer came while the Sender was still blocked")
	require.Zero(t, blocking.sent.Load())
	close(release)
	f.grant.Challenge.Flush()
	require.Equal(t, int64(1), blocking.sent.Load())
	evs := f.events()
	require.Equal(t, true, evs[len(evs)-1].Data["delivered"])
}

// blockingSender delivers nothing until release is closed.
type blockingSender struct {
	release chan struct{}
	sent    atomic.Int64
}

func (b *blockingSender) Send(ctx context.Context, _ notify.Message) error {
	select {
	case <-b.release:
		b.sent.Add(1)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// headerNames lists the names of h's headers but Date.
func headerNames(h http.Header) []string {
	var names []string
	for k := range h {
		if k != "Date" {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return names
}

func TestForeignOOBCode(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := f.identify("1 Main St", "usage:read")
	f.send(c.OOBCode, "sms-1")
	code, _ := f.lastCode()
	res := f.redeem(otherKioskID, c.OOBCode, code)
	require.Equal(t, http.StatusBadRequest, res.Status)
	gt.Golden(t, "token_foreign_oob_code", res, nil)
	res = f.challenge(otherKioskID, url.Values{"oob_code": {c.OOBCode}, "channel": {"sms-1"}})
	require.Equal(t, http.StatusBadRequest, res.Status)
	require.Equal(t, "invalid_grant", res.Error(t))
	// The owner still can.
	require.Equal(t, http.StatusOK, f.redeem(kioskID, c.OOBCode, code).Status)
}

// TestDecoy: an identifier that names nobody gets the same answers as one that names someone.
func TestDecoy(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	real := f.challenge(kioskID, url.Values{"login_hint": {"1 Main St"}, "scope": {"usage:read"}})
	fake := f.challenge(kioskID, url.Values{"login_hint": {"2 Main St"}, "scope": {"usage:read"}})
	require.Equal(t, real.Status, fake.Status)
	require.Equal(t, real.Header.Get("Content-Type"), fake.Header.Get("Content-Type"))
	require.Equal(t, shape(t, real.Body), shape(t, fake.Body))
	var rc, fc otp.ChallengeResponse
	require.NoError(t, json.Unmarshal(real.Body, &rc))
	require.NoError(t, json.Unmarshal(fake.Body, &fc))
	gt.Golden(t, "challenge_identify_decoy", fake, map[string]string{fc.OOBCode: "<oob_code>"})

	// Stable: asking again shows the same channels.
	again := f.identify("2  main st", "usage:read")
	require.Equal(t, fc.Channels, again.Channels)
	require.NotEqual(t, f.identify("3 Main St", "usage:read").Channels, fc.Channels)

	// An identifier that is a phone number or an address is shown masked as itself.
	require.Equal(t, "***-***-9999", f.identify("+1 555 000 9999", "").Channels[0].Destination)
	require.Equal(t, "n***@e***.org", f.identify("nobody@example.org", "").Channels[1].Destination)
	// An account with nowhere to send is a decoy too.
	require.Len(t, f.identify("acct-3003", "").Channels, 2)

	// Sending looks the same and goes nowhere.
	rs := f.challenge(kioskID, url.Values{"oob_code": {rc.OOBCode}, "channel": {"sms-1"}})
	fs := f.challenge(kioskID, url.Values{"oob_code": {fc.OOBCode}, "channel": {"sms-1"}})
	require.Equal(t, rs.Status, fs.Status)
	require.Equal(t, shape(t, rs.Body), shape(t, fs.Body))
	require.Len(t, f.outbox.Messages(), 1, "only the real account got a message")
	// And resending too soon is refused the same way.
	require.Equal(t, "slow_down", f.challenge(kioskID, url.Values{"oob_code": {fc.OOBCode}, "channel": {"sms-1"}}).Error(t))

	evs := f.events()
	require.Equal(t, true, evs[len(evs)-1].Data["decoy"], "the decoy send is audited as such")
	require.Equal(t, false, evs[len(evs)-1].Data["delivered"])
}

// shape reduces a JSON body to its member names and value types, recursively.
func shape(t *testing.T, body []byte) string {
	var v interface{}
	require.NoError(t, json.Unmarshal(body, &v))
	var walk func(v interface{}) interface{}
	walk = func(v interface{}) interface{} {
		switch x := v.(type) {
		case map[string]interface{}:
			out := map[string]interface{}{}
			for k, e := range x {
				out[k] = walk(e)
			}
			return out
		case []interface{}:
			out := []interface{}{}
			for _, e := range x {
				out = append(out, walk(e))
			}
			return out
		case string:
			return "string"
		case float64:
			return "number"
		}
		return v
	}
	b, err := json.Marshal(walk(v))
	require.NoError(t, err)
	return string(b)
}

func TestChallengeErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	live := f.identify("1 Main St", "usage:read")
	for _, tc := range []struct {
		name   string
		client string
		form   url.Values
		status int
		err    string
	}{
		{"no login_hint", kioskID, url.Values{"scope": {"usage:read"}}, 400, "invalid_request"},
		{"login_hint too long", kioskID, url.Values{"login_hint": {strings.Repeat("a", 257)}}, 400, "invalid_request"},
		{"login_hint and oob_code", kioskID, url.Values{"oob_code": {live.OOBCode}, "channel": {"sms-1"}, "login_hint": {"x"}}, 400, "invalid_request"},
		{"oob_code without channel", kioskID, url.Values{"oob_code": {live.OOBCode}}, 400, "invalid_request"},
		{"channel without oob_code", kioskID, url.Values{"login_hint": {"1 Main St"}, "channel": {"sms-1"}}, 400, "invalid_request"},
		{"unknown channel", kioskID, url.Values{"oob_code": {live.OOBCode}, "channel": {"voice-1"}}, 400, "invalid_request"},
		{"unknown oob_code", kioskID, url.Values{"oob_code": {"not-a-handle.x"}, "channel": {"sms-1"}}, 400, "invalid_grant"},
		{"scope not allowed", kioskID, url.Values{"login_hint": {"1 Main St"}, "scope": {"admin"}}, 400, "invalid_scope"},
		{"public client", publicID, url.Values{"login_hint": {"1 Main St"}, "client_id": {publicID}}, 400, "unauthorized_client"},
		{"client without the grant", noOTPClientID, url.Values{"login_hint": {"1 Main St"}}, 400, "unauthorized_client"},
		{"no client", "", url.Values{"login_hint": {"1 Main St"}}, 400, "invalid_request"},
		{"wrong secret", otherKioskID + "x", url.Values{"login_hint": {"1 Main St"}}, 401, "invalid_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := tc.client
			if client == publicID {
				client = ""
			}
			res := f.challenge(client, tc.form)
			require.Equal(t, tc.status, res.Status, "body: %s", res.Body)
			require.Equal(t, tc.err, res.Error(t))
			gt.Golden(t, "challenge_"+strings.ReplaceAll(tc.name, " ", "_"), res, nil)
		})
	}
	require.Empty(t, f.outbox.Messages())
}

func TestTokenErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := f.identify("1 Main St", "usage:read")
	for _, tc := range []struct {
		name   string
		client string
		form   url.Values
		status int
		err    string
	}{
		{"no oob_code", kioskID, url.Values{"binding_code": {"123456"}}, 400, "invalid_request"},
		{"no binding_code", kioskID, url.Values{"oob_code": {c.OOBCode}}, 400, "invalid_request"},
		{"unknown oob_code", kioskID, url.Values{"oob_code": {"nope.nope"}, "binding_code": {"123456"}}, 400, "invalid_grant"},
		{"no code sent yet", kioskID, url.Values{"oob_code": {c.OOBCode}, "binding_code": {"123456"}}, 400, "invalid_grant"},
		{"client without the grant", noOTPClientID, url.Values{"oob_code": {c.OOBCode}, "binding_code": {"123456"}}, 400, "unauthorized_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.form.Set("grant_type", grantType)
			res := f.do(tokenPath, tc.client, tc.form)
			require.Equal(t, tc.status, res.Status, "body: %s", res.Body)
			require.Equal(t, tc.err, res.Error(t))
			gt.Golden(t, "token_"+strings.ReplaceAll(tc.name, " ", "_"), res, nil)
		})
	}
}

func TestDiscovery(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	m := f.p.Metadata()
	require.Equal(t, gt.Issuer+challengePath, m[otp.ChallengeEndpointMetadata])
	require.Contains(t, m["grant_types_supported"], grantType)
}

func TestConfigurableGrantTypeAndLength(t *testing.T) {
	t.Parallel()
	const custom = "urn:example:params:oauth:grant-type:otp"
	f := newFixture(t, func(c *otp.Options) {
		c.GrantType = custom
		c.CodeLength = 8
	})
	require.NoError(t, f.store.SetClient(t.Context(), &fosite.DefaultClient{ID: kioskID, Secret: mustHash(t, f), GrantTypes: []string{custom}, Scopes: []string{"usage:read"}}))
	c := f.identify("1 Main St", "usage:read")
	f.send(c.OOBCode, "sms-1")
	code, _ := f.lastCode()
	require.Len(t, code, 8)
	res := f.do(tokenPath, kioskID, url.Values{"grant_type": {custom}, "oob_code": {c.OOBCode}, "binding_code": {code}})
	require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
}

func mustHash(t *testing.T, f *fixture) []byte {
	h, err := (&fosite.BCrypt{Config: f.cfg}).Hash(t.Context(), []byte(kioskSecret))
	require.NoError(t, err)
	return h
}
