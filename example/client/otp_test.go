package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/example/server"
	"github.com/fosite-contrib/grants/notify"
)

// TestOTPAgainstExampleServer runs `client otp` against the real example server: the person picks e-mail
// at the prompt, reads the code from the message, mistypes it once, then types it.
func TestOTPAgainstExampleServer(t *testing.T) {
	t.Parallel()
	msgs := make(chan notify.Message, 4)
	ts := httptest.NewUnstartedServer(nil)
	srv, err := server.New(context.Background(), server.Options{
		Issuer: "http://" + ts.Listener.Addr().String(), AdminToken: "admin",
		Sender: notify.SenderFunc(func(_ context.Context, m notify.Message) error { msgs <- m; return nil }),
	})
	require.NoError(t, err)
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(ts.Close)

	stdin, typist := io.Pipe()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- runOTP(context.Background(), otpOptions{
			Issuer: ts.URL, ClientID: "demo-kiosk", ClientSecret: server.DemoKioskSecret,
			LoginHint: "1 main st", Scopes: []string{"openid", "usage:read"}, In: stdin,
		}, &out)
	}()
	_, err = io.WriteString(typist, "2\n") // the e-mail option
	require.NoError(t, err)
	m := <-msgs
	require.Equal(t, notify.Email, m.Channel)
	require.Equal(t, "alice@example.com", m.To)
	code := regexp.MustCompile(`\b\d{6}\b`).FindString(m.Text)
	require.NotEmpty(t, code)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	_, err = io.WriteString(typist, wrong+"\n"+code[:3]+" "+code[3:]+"\n")
	require.NoError(t, err)
	require.NoError(t, <-done)

	text := out.String()
	require.Contains(t, text, "1) text message to ***-***-4567")
	require.Contains(t, text, "2) e-mail to a***@e***.com")
	require.Contains(t, text, "That code is not right; 4 tries left.")
	var tok map[string]interface{}
	require.NoError(t, json.Unmarshal(out.Bytes()[bytes.IndexByte(out.Bytes(), '{'):], &tok))
	require.NotEmpty(t, tok["access_token"])
	require.NotEmpty(t, tok["id_token"])
	require.Equal(t, "openid usage:read", tok["scope"])
}

func TestOTPCommandUsage(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	require.ErrorIs(t, otpCommand(context.Background(), nil, io.Discard, &stderr), errUsage)
	require.Contains(t, stderr.String(), "-login-hint")
}
