package notify_test

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/notify"
)

func TestMessageValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		m    notify.Message
		want string // empty: valid
	}{
		{name: "e-mail", m: emailTo("ana@example.com")},
		{name: "e-mail with display name", m: emailTo("Ana Müller <ana@example.com>")},
		{name: "SMS", m: smsTo("+14155550100")},
		{name: "voice", m: notify.Message{To: "+4930123456", Channel: notify.Voice, Text: "Your code is 1 2 3"}},
		{name: "locale", m: notify.Message{To: "+4930123456", Channel: notify.SMS, Text: "x", Locale: "de-CH"}},
		{name: "empty channel", m: notify.Message{To: "ana@example.com", Text: "x"}, want: "Channel is empty"},
		{name: "unknown channel", m: notify.Message{To: "ana@example.com", Channel: "pigeon", Text: "x"}, want: `unknown Channel "pigeon"`},
		{name: "empty e-mail", m: emailTo(""), want: "To is empty"},
		{name: "not an e-mail", m: emailTo("ana.example.com"), want: "To is not an e-mail address"},
		{name: "two e-mail addresses", m: emailTo("a@example.com, b@example.com"), want: "To is not an e-mail address"},
		{name: "e-mail header injection", m: emailTo("a@example.com\r\nBcc: b@example.com"), want: "line break"},
		{name: "SMS without plus", m: smsTo("14155550100"), want: "E.164"},
		{name: "SMS with spaces", m: smsTo("+1 415 555 0100"), want: "E.164"},
		{name: "SMS too long", m: smsTo("+1234567890123456"), want: "E.164"},
		{name: "SMS too short", m: smsTo("+12345"), want: "E.164"},
		{name: "SMS starting with 0", m: smsTo("+04155550100"), want: "E.164"},
		{name: "SMS to an e-mail", m: smsTo("ana@example.com"), want: "E.164"},
		{name: "empty text", m: notify.Message{To: "+14155550100", Channel: notify.SMS, Text: " \n"}, want: "Text is empty"},
		{name: "two-line subject", m: notify.Message{To: "a@example.com", Channel: notify.Email, Subject: "a\nb", Text: "x"}, want: "line break"},
		{name: "bad locale", m: notify.Message{To: "+14155550100", Channel: notify.SMS, Text: "x", Locale: "../../etc"}, want: "Locale"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.m.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, notify.ErrInvalidMessage)
			require.ErrorIs(t, err, notify.ErrPermanent)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// FuzzMessageValidate checks that Validate never panics and that what it accepts is safe to
// put into a mail header or an SMS API call.
func FuzzMessageValidate(f *testing.F) {
	f.Add("ana@example.com", "email", "Subject", "de-CH")
	f.Add("+14155550100", "sms", "", "")
	f.Add("\"a\\\"b\" <a@[127.0.0.1]>", "email", "=?utf-8?q?x?=", "x")
	f.Fuzz(func(t *testing.T, to, channel, subject, locale string) {
		m := notify.Message{To: to, Channel: notify.Channel(channel), Subject: subject, Text: "body", Locale: locale}
		err := m.Validate()
		if err != nil {
			if !errors.Is(err, notify.ErrInvalidMessage) || !errors.Is(err, notify.ErrPermanent) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if strings.ContainsAny(to+subject+locale, "\r\n") {
			t.Fatalf("accepted a line break: %q %q %q", to, subject, locale)
		}
		switch m.Channel {
		case notify.Email:
			if _, err := mail.ParseAddress(to); err != nil {
				t.Fatalf("accepted %q: %v", to, err)
			}
		case notify.SMS, notify.Voice:
			if to[0] != '+' || strings.Trim(to[1:], "0123456789") != "" {
				t.Fatalf("accepted %q", to)
			}
		default:
			t.Fatalf("accepted channel %q", channel)
		}
	})
}

func TestMuxRoutesByChannel(t *testing.T) {
	t.Parallel()
	var got []string
	record := func(name string) notify.Sender {
		return notify.SenderFunc(func(_ context.Context, m notify.Message) error {
			got = append(got, name+":"+m.To)
			return nil
		})
	}
	mux := notify.Mux{notify.Email: record("mail"), notify.SMS: record("sms")}
	require.NoError(t, mux.Send(t.Context(), emailTo("ana@example.com")))
	require.NoError(t, mux.Send(t.Context(), smsTo("+14155550100")))
	require.Equal(t, []string{"mail:ana@example.com", "sms:+14155550100"}, got)

	err := mux.Send(t.Context(), notify.Message{To: "+14155550100", Channel: notify.Voice, Text: "x"})
	require.ErrorIs(t, err, notify.ErrUnknownChannel)
	require.ErrorIs(t, err, notify.ErrPermanent)
	require.EqualError(t, err, `notify: no sender for channel "voice"`)
}

func TestErrorClasses(t *testing.T) {
	t.Parallel()
	base := errors.New("boom")
	for _, tc := range []struct {
		name                   string
		err                    error
		permanent, temp, retry bool
	}{
		{name: "nil", err: nil},
		{name: "unclassified", err: base, retry: true},
		{name: "permanent", err: notify.Permanent(base), permanent: true},
		{name: "temporary", err: notify.Temporary(base), temp: true, retry: true},
		{name: "wrapped permanent", err: fmt.Errorf("outer: %w", notify.Permanent(base)), permanent: true},
		{name: "permanent wins over temporary", err: notify.Permanent(notify.Temporary(base)), permanent: true, temp: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.permanent, errors.Is(tc.err, notify.ErrPermanent))
			require.Equal(t, tc.temp, errors.Is(tc.err, notify.ErrTemporary))
			require.Equal(t, tc.retry, notify.Retryable(tc.err))
			if tc.err != nil {
				require.ErrorIs(t, tc.err, base)
				require.Contains(t, tc.err.Error(), "boom")
			}
		})
	}
	require.NoError(t, notify.Permanent(nil))
	require.NoError(t, notify.Temporary(nil))
	require.Equal(t, "boom", notify.Permanent(base).Error(), "the class does not change the text")
}
