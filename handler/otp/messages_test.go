package otp_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/otp"
)

// TestDefaultTemplates: every channel in every shipped language names the client, describes the scopes,
// gives the expiry, carries the code and warns never to share it.
func TestDefaultTemplates(t *testing.T) {
	t.Parallel()
	data := otp.MessageData{Code: "493817", SpacedCode: "4 9 3 8 1 7", ClientName: "Hardware Store Kiosk",
		Scopes: []string{"See your energy use"}, ExpiresInMinutes: 5, ExpiresAt: time.Unix(0, 0)}
	never := map[string]string{"en": "ever", "de": "nie"}
	tmpl := otp.NewDefaultTemplates()
	for _, locale := range []string{"en", "de"} {
		for _, ch := range []otp.ChannelType{otp.SMS, otp.Email, otp.Voice} {
			t.Run(locale+"/"+string(ch), func(t *testing.T) {
				m, err := tmpl.Render(otp.TemplateName(ch), locale, data)
				require.NoError(t, err)
				require.Equal(t, locale, m.Locale)
				code := data.Code
				if ch == otp.Voice {
					code = data.SpacedCode
				}
				for _, want := range []string{code, "Hardware Store Kiosk", "See your energy use", "5", never[locale]} {
					require.Contains(t, m.Text, want)
				}
				if ch == otp.Email {
					require.Contains(t, m.Subject, data.Code)
					require.Contains(t, m.HTML, data.Code)
				}
				if ch == otp.SMS {
					require.LessOrEqual(t, len(m.Text), 320, "two SMS segments at most")
				}
			})
		}
	}
	// An unknown language falls back to English; the client name is escaped in HTML.
	m, err := tmpl.Render(otp.TemplateName(otp.Email), "fr-CA", otp.MessageData{Code: "1", ClientName: "<b>x</b>", Scopes: []string{"a"}, ExpiresInMinutes: 1})
	require.NoError(t, err)
	require.Equal(t, "en", m.Locale)
	require.False(t, strings.Contains(m.HTML, "<b>x</b>"))
}
