package notify_test

import (
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/notify"
)

// grantDefaults is what a grant package would embed.
var grantDefaults = fstest.MapFS{
	"en/otp/code.txt": {Data: []byte(`{{define "subject"}}
  Your {{.Service}} code
{{end}}
Your code is {{.Code}}.
`)},
	"en/otp/code.html": {Data: []byte(`<p>Your code is <b>{{.Code}}</b> for {{.Service}}.</p>`)},
	"de/otp/code.txt":  {Data: []byte(`{{define "subject"}}Ihr {{.Service}}-Code{{end}}Ihr Code lautet {{.Code}}.`)},
	"en/alert.txt":     {Data: []byte(`A device was approved.`)},
}

// appOverrides is what an application would put in front.
var appOverrides = fstest.MapFS{
	"en/otp/code.txt": {Data: []byte(`{{define "subject"}}ACME sign-in{{end}}ACME: your code is {{.Code}}.`)},
}

func TestTemplatesRender(t *testing.T) {
	t.Parallel()
	data := map[string]string{"Code": "123456", "Service": "<ACME>"}
	for _, tc := range []struct {
		name   string
		layers []fs.FS
		tmpl   string
		locale string
		want   notify.Message
	}{
		{
			name: "exact locale", layers: []fs.FS{grantDefaults}, tmpl: "otp/code", locale: "en",
			want: notify.Message{
				Locale: "en", Subject: "Your <ACME> code", Text: "Your code is 123456.\n",
				HTML: `<p>Your code is <b>123456</b> for &lt;ACME&gt;.</p>`,
			},
		},
		{
			name: "region falls back to language, without the other language's HTML", layers: []fs.FS{grantDefaults}, tmpl: "otp/code", locale: "de_ch",
			want: notify.Message{Locale: "de", Subject: "Ihr <ACME>-Code", Text: "Ihr Code lautet 123456.\n"},
		},
		{
			name: "unknown locale falls back", layers: []fs.FS{grantDefaults}, tmpl: "otp/code", locale: "fr-FR",
			want: notify.Message{
				Locale: "en", Subject: "Your <ACME> code", Text: "Your code is 123456.\n",
				HTML: `<p>Your code is <b>123456</b> for &lt;ACME&gt;.</p>`,
			},
		},
		{
			name: "unusable locale falls back", layers: []fs.FS{grantDefaults}, tmpl: "otp/code", locale: "../de",
			want: notify.Message{
				Locale: "en", Subject: "Your <ACME> code", Text: "Your code is 123456.\n",
				HTML: `<p>Your code is <b>123456</b> for &lt;ACME&gt;.</p>`,
			},
		},
		{
			name: "application overrides one file, the grant's HTML stays", layers: []fs.FS{appOverrides, grantDefaults}, tmpl: "otp/code", locale: "en",
			want: notify.Message{
				Locale: "en", Subject: "ACME sign-in", Text: "ACME: your code is 123456.\n",
				HTML: `<p>Your code is <b>123456</b> for &lt;ACME&gt;.</p>`,
			},
		},
		{
			name: "locale beats layer order", layers: []fs.FS{appOverrides, grantDefaults}, tmpl: "otp/code", locale: "de",
			want: notify.Message{Locale: "de", Subject: "Ihr <ACME>-Code", Text: "Ihr Code lautet 123456.\n"},
		},
		{
			name: "no subject defined", layers: []fs.FS{grantDefaults}, tmpl: "alert", locale: "en",
			want: notify.Message{Locale: "en", Text: "A device was approved.\n"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := notify.NewTemplates("en", tc.layers...).Render(tc.tmpl, tc.locale, data)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestTemplatesErrors(t *testing.T) {
	t.Parallel()
	tm := notify.NewTemplates("en", grantDefaults, fstest.MapFS{
		"en/broken.txt": {Data: []byte(`{{.Code`)},
	})
	_, err := tm.Render("missing", "de", nil)
	require.ErrorIs(t, err, fs.ErrNotExist)

	_, err = tm.Render("../en/otp/code", "en", nil)
	require.ErrorContains(t, err, "not a valid path")

	_, err = tm.Render("otp/code", "en", map[string]string{"Service": "x"})
	require.ErrorContains(t, err, "Code", "a missing value is an error, not \"<no value>\"")

	_, err = tm.Render("broken", "en", nil)
	require.ErrorContains(t, err, "en/broken.txt")
}
