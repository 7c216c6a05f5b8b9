package notify_test

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/notify"
	"github.com/fosite-contrib/grants/notify/notifytest"
)

var fixedNow = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

func newSMTP(t *testing.T, cfg notify.SMTPConfig) *notify.SMTP {
	t.Helper()
	cfg.Now = func() time.Time { return fixedNow }
	s, err := notify.NewSMTP(cfg)
	require.NoError(t, err)
	return s
}

func emailTo(to string) notify.Message {
	return notify.Message{
		To:      to,
		Channel: notify.Email,
		Subject: "Your sign-in code",
		Text:    "Your code is 123456.\nIt expires in 5 minutes.\n",
	}
}

// readParts returns the decoded bodies of a MIME message, by content type.
func readParts(t *testing.T, m notifytest.Mail) map[string]string {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(m.Raw)))
	require.NoError(t, err)
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	parts := map[string]string{}
	if !strings.HasPrefix(mediaType, "multipart/") {
		require.Equal(t, "quoted-printable", msg.Header.Get("Content-Transfer-Encoding"))
		body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
		require.NoError(t, err)
		parts[mediaType+"; charset="+params["charset"]] = string(body)
		return parts
	}
	require.Equal(t, "multipart/alternative", mediaType)
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // decodes quoted-printable
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		body, err := io.ReadAll(p)
		require.NoError(t, err)
		ct, ctParams, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		require.NoError(t, err)
		parts[ct+"; charset="+ctParams["charset"]] = string(body)
	}
	return parts
}

func normalizeNewlines(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

func TestSMTPSendsMIMEMessageOverSTARTTLSWithAuth(t *testing.T) {
	t.Parallel()
	srv := notifytest.NewSMTPServer(t)
	sender := newSMTP(t, srv.Config())

	m := emailTo("Ana Müller <ana@example.com>")
	m.Subject = "Ihr Anmeldecode – gültig 5 Minuten"
	m.Text = "Ihr Code lautet 123456.\nÖffnen Sie https://example.com/device?user_code=WDJB-MJHT\n"
	m.HTML = `<p>Ihr Code lautet <b>123456</b>.</p>`
	m.Locale = "de"
	m.Meta = map[string]string{"kind": "otp"}
	require.NoError(t, sender.Send(t.Context(), m))

	got := srv.Next(t)
	require.True(t, got.TLS, "message must travel over STARTTLS")
	require.Equal(t, "PLAIN", got.AuthMechanism)
	require.Equal(t, srv.Username, got.AuthUser)
	require.Equal(t, "sender@example.com", got.From)
	require.Equal(t, []string{"ana@example.com"}, got.To)

	h := got.Header
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	require.NoError(t, err)
	require.Equal(t, m.Subject, subject)
	require.True(t, strings.HasPrefix(h.Get("Subject"), "=?UTF-8?"), "non-ASCII subject must be an RFC 2047 encoded word, got %q", h.Get("Subject"))
	to, err := h.AddressList("To")
	require.NoError(t, err)
	require.Equal(t, []*mail.Address{{Name: "Ana Müller", Address: "ana@example.com"}}, to)
	from, err := h.AddressList("From")
	require.NoError(t, err)
	require.Equal(t, []*mail.Address{{Name: "Test Sender", Address: "sender@example.com"}}, from)
	date, err := h.Date()
	require.NoError(t, err)
	require.True(t, date.Equal(fixedNow), "Date %v, want %v", date, fixedNow)
	require.Regexp(t, regexp.MustCompile(`^<[a-z0-9]{20,}@example\.com>$`), h.Get("Message-ID"))
	require.Equal(t, "de", h.Get("Content-Language"))
	require.Equal(t, "auto-generated", h.Get("Auto-Submitted"))
	require.Equal(t, "1.0", h.Get("MIME-Version"))
	require.Empty(t, h.Get("X-Kind"), "Meta is not transmitted")
	require.NotContains(t, string(got.Raw), "otp", "Meta is not transmitted")

	parts := readParts(t, got)
	require.Equal(t, map[string]string{
		"text/plain; charset=UTF-8": m.Text,
		"text/html; charset=UTF-8":  m.HTML,
	}, map[string]string{
		"text/plain; charset=UTF-8": normalizeNewlines(parts["text/plain; charset=UTF-8"]),
		"text/html; charset=UTF-8":  normalizeNewlines(parts["text/html; charset=UTF-8"]),
	})
	require.Len(t, parts, 2)
}

func TestSMTPPlainTextOnlyMessageIsNotMultipart(t *testing.T) {
	t.Parallel()
	srv := notifytest.NewSMTPServer(t)
	sender := newSMTP(t, srv.Config())
	m := emailTo("ana@example.com")
	require.NoError(t, sender.Send(t.Context(), m))

	got := srv.Next(t)
	parts := readParts(t, got)
	require.Len(t, parts, 1)
	require.Equal(t, m.Text, normalizeNewlines(parts["text/plain; charset=UTF-8"]))
	require.Equal(t, m.Subject, got.Header.Get("Subject"), "an ASCII subject stays readable")
	require.Empty(t, got.Header.Get("Content-Language"), "no Locale, no Content-Language")
}

func TestSMTPTransportModes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		opts     []notifytest.Option
		wantTLS  bool
		wantMech string
	}{
		{name: "STARTTLS with PLAIN", wantTLS: true, wantMech: "PLAIN"},
		{name: "STARTTLS with LOGIN when the server offers only LOGIN", opts: []notifytest.Option{notifytest.WithAuthMechanisms("LOGIN")}, wantTLS: true, wantMech: "LOGIN"},
		{name: "PLAIN preferred when both are offered", opts: []notifytest.Option{notifytest.WithAuthMechanisms("LOGIN", "PLAIN")}, wantTLS: true, wantMech: "PLAIN"},
		{name: "implicit TLS", opts: []notifytest.Option{notifytest.WithImplicitTLS()}, wantTLS: true, wantMech: "PLAIN"},
		{name: "no AUTH when no username", opts: []notifytest.Option{notifytest.WithAuthMechanisms()}, wantTLS: true},
		{name: "plain text to a loopback dev server", opts: []notifytest.Option{notifytest.WithoutSTARTTLS()}, wantTLS: false, wantMech: "PLAIN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := notifytest.NewSMTPServer(t, tc.opts...)
			sender := newSMTP(t, srv.Config())
			require.NoError(t, sender.Send(t.Context(), emailTo("ana@example.com")))
			got := srv.Next(t)
			require.Equal(t, tc.wantTLS, got.TLS)
			require.Equal(t, tc.wantMech, got.AuthMechanism)
			require.Equal(t, []string{"ana@example.com"}, got.To)
		})
	}
}

func TestSMTPFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		opts          []notifytest.Option
		config        func(cfg *notify.SMTPConfig)
		wantPermanent bool
		wantText      string
	}{
		{
			name:     "STARTTLS required but the server does not offer it",
			opts:     []notifytest.Option{notifytest.WithoutSTARTTLS()},
			config:   func(cfg *notify.SMTPConfig) { cfg.NoTLS = false },
			wantText: "STARTTLS",
		},
		{
			name:     "server certificate not trusted",
			config:   func(cfg *notify.SMTPConfig) { cfg.TLSConfig = nil },
			wantText: "certificate",
		},
		{
			name:     "implicit TLS certificate not trusted",
			opts:     []notifytest.Option{notifytest.WithImplicitTLS()},
			config:   func(cfg *notify.SMTPConfig) { cfg.TLSConfig = nil },
			wantText: "certificate",
		},
		{
			name:          "wrong password",
			config:        func(cfg *notify.SMTPConfig) { cfg.Password = "wrong" },
			wantPermanent: true,
			wantText:      "535",
		},
		{
			name:     "server offers no usable AUTH mechanism",
			opts:     []notifytest.Option{notifytest.WithAuthMechanisms("CRAM-MD5")},
			wantText: "only PLAIN and LOGIN",
		},
		{
			name:          "recipient rejected for good",
			opts:          []notifytest.Option{notifytest.WithRcptError(550, "no such user")},
			wantPermanent: true,
			wantText:      "no such user",
		},
		{
			name:     "recipient deferred",
			opts:     []notifytest.Option{notifytest.WithRcptError(451, "greylisted, try again later")},
			wantText: "greylisted",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := notifytest.NewSMTPServer(t, tc.opts...)
			cfg := srv.Config()
			if tc.config != nil {
				tc.config(&cfg)
			}
			sender := newSMTP(t, cfg)

			err := sender.Send(t.Context(), emailTo("ana@example.com"))
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.wantText)
			require.Equal(t, tc.wantPermanent, errors.Is(err, notify.ErrPermanent), "permanent? %v", err)
			require.Equal(t, !tc.wantPermanent, errors.Is(err, notify.ErrTemporary), "temporary? %v", err)
			require.NotContains(t, err.Error(), srv.Password)
			require.NotContains(t, err.Error(), "123456", "errors never carry the body")
			require.Empty(t, srv.Mails(), "nothing may be delivered")
		})
	}
}

func TestSMTPRejectsInvalidMessagesWithoutConnecting(t *testing.T) {
	t.Parallel()
	// Nothing listens here: an attempt to connect would fail with a temporary error.
	sender := newSMTP(t, notify.SMTPConfig{Host: "127.0.0.1", Port: 1, From: "a@example.com"})
	for name, m := range map[string]notify.Message{
		"bad address":   emailTo("not an address"),
		"SMS message":   {To: "+14155550100", Channel: notify.SMS, Text: "hi"},
		"empty text":    {To: "ana@example.com", Channel: notify.Email, Subject: "x"},
		"header inject": {To: "ana@example.com", Channel: notify.Email, Subject: "x\r\nBcc: eve@example.com", Text: "hi"},
	} {
		t.Run(name, func(t *testing.T) {
			err := sender.Send(t.Context(), m)
			require.ErrorIs(t, err, notify.ErrInvalidMessage)
			require.ErrorIs(t, err, notify.ErrPermanent)
		})
	}
}

func TestSMTPStopsWhenContextIsCancelled(t *testing.T) {
	t.Parallel()
	// A server that accepts the connection and then never says a word.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	sender := newSMTP(t, notify.SMTPConfig{Host: "127.0.0.1", Port: port, From: "a@example.com"})

	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		c := <-accepted
		t.Cleanup(func() { _ = c.Close() })
		cancel()
	}()
	err = sender.Send(ctx, emailTo("ana@example.com"))
	require.ErrorIs(t, err, context.Canceled)
	require.True(t, notify.Retryable(err))
}

func TestSMTPIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	srv := notifytest.NewSMTPServer(t)
	sender := newSMTP(t, srv.Config())
	const n = 6
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- sender.Send(t.Context(), emailTo("user"+string(rune('a'+i))+"@example.com"))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	seen := map[string]bool{}
	for range n {
		m := srv.Next(t)
		seen[m.To[0]] = true
	}
	require.Len(t, seen, n)
}

func TestNewSMTPChecksConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  notify.SMTPConfig
		want string
	}{
		{name: "no host", cfg: notify.SMTPConfig{From: "a@example.com"}, want: "Host is empty"},
		{name: "no from", cfg: notify.SMTPConfig{Host: "smtp.example.com"}, want: "From"},
		{name: "from without domain", cfg: notify.SMTPConfig{Host: "smtp.example.com", From: "<a@>"}, want: "From"},
		{name: "header injection in from", cfg: notify.SMTPConfig{Host: "smtp.example.com", From: "a@example.com\r\nBcc: b@example.com"}, want: "line break"},
		{name: "plain text to a remote host", cfg: notify.SMTPConfig{Host: "smtp.example.com", From: "a@example.com", NoTLS: true}, want: "loopback"},
		{name: "plain text and implicit TLS", cfg: notify.SMTPConfig{Host: "localhost", From: "a@example.com", NoTLS: true, ImplicitTLS: true}, want: "both"},
		{name: "password without username", cfg: notify.SMTPConfig{Host: "smtp.example.com", From: "a@example.com", Password: "x"}, want: "without Username"},
		{name: "bad port", cfg: notify.SMTPConfig{Host: "smtp.example.com", From: "a@example.com", Port: 70000}, want: "out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := notify.NewSMTP(tc.cfg)
			require.ErrorContains(t, err, tc.want)
		})
	}
	for _, host := range []string{"localhost", "127.0.0.1", "::1", "[::1]"} {
		_, err := notify.NewSMTP(notify.SMTPConfig{Host: host, From: "a@example.com", NoTLS: true})
		require.NoError(t, err, host)
	}
}
