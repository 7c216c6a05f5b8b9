package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/notify"
)

func smsTo(to string) notify.Message {
	return notify.Message{To: to, Channel: notify.SMS, Text: "Your code is 123456"}
}

// newHTTPSMS returns a sender for an API double on loopback (so loopback is allowed).
func newHTTPSMS(t *testing.T, cfg notify.HTTPSMSConfig) *notify.HTTPSMS {
	t.Helper()
	cfg.AllowLoopback = true
	s, err := notify.NewHTTPSMS(cfg)
	require.NoError(t, err)
	return s
}

func TestHTTPSMSPostsJSONWithBearerToken(t *testing.T) {
	t.Parallel()
	type received struct {
		method, contentType, auth string
		body                      map[string]any
	}
	got := make(chan received, 1)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got <- received{r.Method, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), body}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(api.Close)

	sender := newHTTPSMS(t, notify.HTTPSMSConfig{URL: api.URL + "/v1/messages", Token: "s3cret-token"})
	require.NoError(t, sender.Send(t.Context(), smsTo("+14155550100")))

	r := <-got
	require.Equal(t, http.MethodPost, r.method)
	require.Equal(t, "application/json", r.contentType)
	require.Equal(t, "Bearer s3cret-token", r.auth)
	require.Equal(t, map[string]any{"to": "+14155550100", "text": "Your code is 123456"}, r.body)
}

func TestHTTPSMSBasicAuthAndCustomRequest(t *testing.T) {
	t.Parallel()
	got := make(chan url.Values, 1)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user != "AC123" || pass != "pw" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got <- r.PostForm
	}))
	t.Cleanup(api.Close)

	sender := newHTTPSMS(t, notify.HTTPSMSConfig{
		URL:      api.URL,
		Username: "AC123",
		Password: "pw",
		// A form-encoded API with a sender id, like several commercial SMS gateways.
		NewRequest: func(ctx context.Context, u string, m notify.Message) (*http.Request, error) {
			form := url.Values{"To": {m.To}, "Body": {m.Text}, "From": {"ACME"}}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return req, nil
		},
	})
	require.NoError(t, sender.Send(t.Context(), smsTo("+4915112345678")))
	require.Equal(t, url.Values{"To": {"+4915112345678"}, "Body": {"Your code is 123456"}, "From": {"ACME"}}, <-got)
}

func TestHTTPSMSClassifiesAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		status        int
		wantErr       bool
		wantPermanent bool
	}{
		{name: "200 sent", status: http.StatusOK},
		{name: "201 sent", status: http.StatusCreated},
		{name: "204 sent", status: http.StatusNoContent},
		{name: "400 permanent", status: http.StatusBadRequest, wantErr: true, wantPermanent: true},
		{name: "401 permanent", status: http.StatusUnauthorized, wantErr: true, wantPermanent: true},
		{name: "422 permanent", status: http.StatusUnprocessableEntity, wantErr: true, wantPermanent: true},
		{name: "408 temporary", status: http.StatusRequestTimeout, wantErr: true},
		{name: "429 temporary", status: http.StatusTooManyRequests, wantErr: true},
		{name: "500 temporary", status: http.StatusInternalServerError, wantErr: true},
		{name: "503 temporary", status: http.StatusServiceUnavailable, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				// An API that echoes the message back in its answer.
				body, _ := io.ReadAll(r.Body)
				_, _ = w.Write(body)
			}))
			t.Cleanup(api.Close)
			sender := newHTTPSMS(t, notify.HTTPSMSConfig{URL: api.URL, Token: "tok"})

			err := sender.Send(t.Context(), smsTo("+14155550100"))
			if !tc.wantErr {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Equal(t, tc.wantPermanent, errors.Is(err, notify.ErrPermanent), "permanent? %v", err)
			require.Equal(t, !tc.wantPermanent, errors.Is(err, notify.ErrTemporary), "temporary? %v", err)
			require.Equal(t, tc.wantPermanent, !notify.Retryable(err))
			var httpErr *notify.HTTPError
			require.ErrorAs(t, err, &httpErr)
			require.Equal(t, tc.status, httpErr.StatusCode)
			require.Contains(t, string(httpErr.Body), "123456", "the answer is kept for the caller")
			require.NotContains(t, err.Error(), "123456", "but never printed")
			require.NotContains(t, err.Error(), "tok")
		})
	}
}

func TestHTTPSMSDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
	}))
	t.Cleanup(elsewhere.Close)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(api.Close)

	// Even a caller-supplied client that would follow redirects must not.
	sender := newHTTPSMS(t, notify.HTTPSMSConfig{URL: api.URL, Token: "tok", Client: &http.Client{}})
	err := sender.Send(t.Context(), smsTo("+14155550100"))
	require.ErrorIs(t, err, notify.ErrPermanent)
	var httpErr *notify.HTTPError
	require.ErrorAs(t, err, &httpErr)
	require.Equal(t, http.StatusTemporaryRedirect, httpErr.StatusCode)
	require.Zero(t, hits.Load(), "the redirect target must never be contacted")
}

func TestHTTPSMSReadsALimitedAnswer(t *testing.T) {
	t.Parallel()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(strings.Repeat("x", 1<<20)))
	}))
	t.Cleanup(api.Close)
	sender := newHTTPSMS(t, notify.HTTPSMSConfig{URL: api.URL})
	err := sender.Send(t.Context(), smsTo("+14155550100"))
	var httpErr *notify.HTTPError
	require.ErrorAs(t, err, &httpErr)
	require.Len(t, httpErr.Body, 4<<10)
}

func TestHTTPSMSNetworkFailureIsTemporary(t *testing.T) {
	t.Parallel()
	api := httptest.NewServer(http.NotFoundHandler())
	u := api.URL
	api.Close() // nothing listens there any more
	sender := newHTTPSMS(t, notify.HTTPSMSConfig{URL: u})
	err := sender.Send(t.Context(), smsTo("+14155550100"))
	require.ErrorIs(t, err, notify.ErrTemporary)
	require.True(t, notify.Retryable(err))
}

func TestHTTPSMSHonoursContext(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{})
	testDone := make(chan struct{})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the whole body lets the server notice when the client hangs up.
		_, _ = io.Copy(io.Discard, r.Body)
		close(arrived)
		// A provider that hangs until the client gives up. The server does not always notice the
		// hang-up, so the handler also returns when the test ends; otherwise api.Close, which waits for
		// handlers, would wait forever.
		select {
		case <-r.Context().Done():
		case <-testDone:
		}
	}))
	t.Cleanup(api.Close)
	t.Cleanup(func() { close(testDone) }) // runs before api.Close (cleanups run last-in, first-out)
	sender := newHTTPSMS(t, notify.HTTPSMSConfig{URL: api.URL})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-arrived
		cancel()
	}()
	err := sender.Send(ctx, smsTo("+14155550100"))
	require.ErrorIs(t, err, context.Canceled)
	require.True(t, notify.Retryable(err))
}

func TestHTTPSMSRejectsBadMessages(t *testing.T) {
	t.Parallel()
	sender := newHTTPSMS(t, notify.HTTPSMSConfig{URL: "https://sms.example.com/send"})
	for name, m := range map[string]notify.Message{
		"not E.164":     smsTo("0155 1234567"),
		"e-mail":        {To: "ana@example.com", Channel: notify.Email, Text: "hi"},
		"voice channel": {To: "+14155550100", Channel: notify.Voice, Text: "hi"},
	} {
		t.Run(name, func(t *testing.T) {
			err := sender.Send(t.Context(), m)
			require.ErrorIs(t, err, notify.ErrInvalidMessage)
			require.ErrorIs(t, err, notify.ErrPermanent)
		})
	}
}

func TestNewHTTPSMSChecksConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  notify.HTTPSMSConfig
		want string
	}{
		{name: "empty URL", cfg: notify.HTTPSMSConfig{}, want: "absolute"},
		{name: "relative URL", cfg: notify.HTTPSMSConfig{URL: "/send"}, want: "absolute"},
		{name: "plain http to a remote host", cfg: notify.HTTPSMSConfig{URL: "http://sms.example.com/send"}, want: "https"},
		{name: "token and basic auth", cfg: notify.HTTPSMSConfig{URL: "https://sms.example.com", Token: "t", Username: "u"}, want: "both"},
		{name: "password without username", cfg: notify.HTTPSMSConfig{URL: "https://sms.example.com", Password: "p"}, want: "without Username"},
		{name: "plain http to loopback outside development", cfg: notify.HTTPSMSConfig{URL: "http://127.0.0.1:8080/send"}, want: "https"},
		{name: "https to loopback outside development", cfg: notify.HTTPSMSConfig{URL: "https://localhost/send"}, want: "loopback"},
		{name: "a private address", cfg: notify.HTTPSMSConfig{URL: "https://10.0.0.1/send", AllowLoopback: true}, want: "private"},
		{name: "the metadata service", cfg: notify.HTTPSMSConfig{URL: "https://169.254.169.254/send"}, want: "link-local"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := notify.NewHTTPSMS(tc.cfg)
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, err := notify.NewHTTPSMS(notify.HTTPSMSConfig{URL: "http://127.0.0.1:8080/send", AllowLoopback: true})
	require.NoError(t, err, "plain http is fine on loopback, in development")
	_, err = notify.NewHTTPSMS(notify.HTTPSMSConfig{URL: "https://10.0.0.1/send", Client: &http.Client{}})
	require.NoError(t, err, "with a client of their own, operators may reach a gateway on their network")
}
