package notifytest_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/notify"
	"github.com/fosite-contrib/grants/notify/notifytest"
)

func TestNextReturnsMessagesInOrderOnce(t *testing.T) {
	t.Parallel()
	srv := notifytest.NewSMTPServer(t)
	sender, err := notify.NewSMTP(srv.Config())
	require.NoError(t, err)
	for _, to := range []string{"a@example.com", "b@example.com"} {
		require.NoError(t, sender.Send(t.Context(), notify.Message{To: to, Channel: notify.Email, Subject: "s", Text: "t"}))
	}
	require.Equal(t, []string{"a@example.com"}, srv.Next(t).To)
	require.Equal(t, []string{"b@example.com"}, srv.Next(t).To)
	all := srv.Mails()
	require.Len(t, all, 2, "Mails keeps everything, whatever Next has returned")
	require.Equal(t, "s", all[0].Header.Get("Subject"))
}

func TestConfigMatchesTheServerMode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                   string
		opts                   []notifytest.Option
		implicit, noTLS, creds bool
	}{
		{name: "default", creds: true},
		{name: "implicit TLS", opts: []notifytest.Option{notifytest.WithImplicitTLS()}, implicit: true, creds: true},
		{name: "no STARTTLS", opts: []notifytest.Option{notifytest.WithoutSTARTTLS()}, noTLS: true, creds: true},
		{name: "no AUTH", opts: []notifytest.Option{notifytest.WithAuthMechanisms()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := notifytest.NewSMTPServer(t, tc.opts...)
			cfg := srv.Config()
			require.Equal(t, tc.implicit, cfg.ImplicitTLS)
			require.Equal(t, tc.noTLS, cfg.NoTLS)
			require.Equal(t, tc.creds, cfg.Username != "" && cfg.Password != "")
			require.Equal(t, srv.Host, cfg.Host)
			require.Equal(t, srv.Port, cfg.Port)
		})
	}
}
