package otp

import (
	"context"
	"embed"
	"io/fs"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/notify"
)

//go:embed templates
var defaultTemplates embed.FS

// DefaultTemplates holds the default message templates, as notify.Templates reads them:
// <locale>/otp/<channel>.txt (and .html for e-mail), with "en" and "de" provided. Put a layer of your
// own before it to change the wording or add languages:
//
//	notify.NewTemplates("en", os.DirFS("my-templates"), otp.DefaultTemplates)
var DefaultTemplates fs.FS = mustSub(defaultTemplates, "templates")

func mustSub(f fs.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return s
}

// NewDefaultTemplates returns the default templates with English as the fallback language.
func NewDefaultTemplates() *notify.Templates { return notify.NewTemplates("en", DefaultTemplates) }

// TemplateName returns the template a code message for channel type t is rendered from: "otp/sms",
// "otp/email" or "otp/voice".
func TemplateName(t ChannelType) string { return "otp/" + string(t) }

// MessageData is what the message templates are executed with.
type MessageData struct {
	// Code is the one-time code, digits only.
	Code string
	// SpacedCode is the code with a space between digits, for voice calls ("1 2 3 4 5 6").
	SpacedCode string
	// ClientName names the client the code signs in to.
	ClientName string
	// Scopes describes, in plain language, what the client will be able to do.
	Scopes []string
	// ExpiresInMinutes is the code's remaining life in whole minutes (at least 1).
	ExpiresInMinutes int
	// ExpiresAt is when the code stops working.
	ExpiresAt time.Time
}

// ScopeDescriber describes scopes in plain language for the message ("See your energy use").
type ScopeDescriber interface {
	DescribeScope(ctx context.Context, scope, locale string) string
}

// ScopeText is a ScopeDescriber from a map of scope to description; scopes it lacks are described by
// their name.
type ScopeText map[string]string

// DescribeScope implements ScopeDescriber.
func (m ScopeText) DescribeScope(_ context.Context, scope, _ string) string {
	if d, ok := m[scope]; ok {
		return d
	}
	return scope
}

// ClientNamer names a client in messages. The default uses the client's name when it has one (an
// OpenID Connect client's client_name, through a GetName or GetClientName method) and its ID otherwise.
type ClientNamer func(ctx context.Context, c fosite.Client) string

func defaultClientName(_ context.Context, c fosite.Client) string {
	switch n := c.(type) {
	case interface{ GetClientName() string }:
		if v := n.GetClientName(); v != "" {
			return v
		}
	case interface{ GetName() string }:
		if v := n.GetName(); v != "" {
			return v
		}
	}
	return c.GetID()
}

// firstLocale returns the first tag of a ui_locales value (OpenID Connect Core §3.1.2.1: space-separated,
// in order of preference).
func firstLocale(uiLocales string) string {
	f := strings.Fields(uiLocales)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func spaced(code string) string {
	return strings.Join(strings.Split(code, ""), " ")
}
