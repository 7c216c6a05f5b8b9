package rfc6749

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/ory/fosite"
)

// ServerError turns an internal failure into the server_error the client sees (RFC 6749 §5.2), keeping
// err as its cause and its text as the server-side debug field (never sent to clients unless fosite is
// told to). A fosite error's own debug text is kept, since its Error() is only the error code.
func ServerError(err error) *fosite.RFC6749Error {
	return fosite.ErrServerError.WithWrap(err).WithDebug(DebugOf(err))
}

// DebugOf is the server-side description of err: a fosite error's debug text (its Error() is only the
// error code), or the error's message.
func DebugOf(err error) string {
	if rfc := fosite.ErrorToRFC6749Error(err); rfc.DebugField != "" {
		return rfc.DebugField
	}
	return err.Error()
}

// WriteJSON writes v as the JSON body of a response that must not be cached (RFC 6749 §5.1: Cache-Control
// no-store, Pragma no-cache), as every endpoint of this module answers. A value that cannot be encoded
// becomes a bare server_error.
func WriteJSON(rw http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(rw, `{"error":"server_error"}`, http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "application/json;charset=UTF-8")
	rw.Header().Set("Cache-Control", "no-store")
	rw.Header().Set("Pragma", "no-cache")
	rw.WriteHeader(status)
	_, _ = rw.Write(body)
}

// LogRefused logs a refused request at Info, or at Error when the server is at fault (5xx): the error
// code, the client-safe hint and the server-side debug text, never a secret. A nil logger logs nothing.
func LogRefused(ctx context.Context, logger *slog.Logger, msg string, err error) {
	if logger == nil {
		return
	}
	rfc := fosite.ErrorToRFC6749Error(err)
	level := slog.LevelInfo
	if rfc.CodeField >= 500 {
		level = slog.LevelError
	}
	logger.LogAttrs(ctx, level, msg,
		slog.String("error", rfc.ErrorField), slog.String("hint", rfc.HintField), slog.String("debug", rfc.DebugField))
}

// WithoutCredentials returns the form minus client credentials (client_secret, client_assertion and its
// type), which must never be stored with a request.
func WithoutCredentials(form url.Values) url.Values {
	out := url.Values{}
	for k, v := range form {
		switch k {
		case "client_secret", "client_assertion", "client_assertion_type":
			continue
		}
		out[k] = v
	}
	return out
}

// DescriptionChars keeps only the characters RFC 6749 §5.2 allows in error_description (%x20-21 /
// %x23-5B / %x5D-7E); a section sign becomes the word "section".
func DescriptionChars(s string) string {
	s = strings.ReplaceAll(s, "§", "section ")
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Sanitize returns err as the RFC6749Error fosite writes, with its description and hint kept to the
// characters RFC 6749 §5.2 allows in error_description (DescriptionChars): hints may quote what a client
// sent. The copy keeps err's cause, so errors.Is still sees through it.
func Sanitize(err error) *fosite.RFC6749Error {
	rfc := fosite.ErrorToRFC6749Error(err)
	c := *rfc
	c.DescriptionField = DescriptionChars(rfc.DescriptionField)
	c.HintField = DescriptionChars(rfc.HintField)
	return &c
}
