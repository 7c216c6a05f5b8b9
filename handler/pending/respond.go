package pending

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/ory/fosite"
)

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

// CompleteVerificationURI adds the user code to the verification URI (RFC 8628 §3.3.1), keeping any
// query the configured URI already has. An empty or unparsable URI gives "".
func CompleteVerificationURI(verificationURI, userCode string) string {
	u, err := url.Parse(verificationURI)
	if err != nil || verificationURI == "" {
		return ""
	}
	q := u.Query()
	q.Set("user_code", userCode)
	u.RawQuery = q.Encode()
	return u.String()
}

// maxUserAgent bounds the user agent kept for an approval page.
const maxUserAgent = 256

// DeviceInfoFromRequest records what the server sees of the requesting device: its address and user
// agent (RFC 8628 §5.4: the approval page shows them so the user can tell a remote phishing attempt).
func DeviceInfoFromRequest(r *http.Request) DeviceInfo {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ua := r.UserAgent()
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	return DeviceInfo{RemoteAddr: host, UserAgent: strings.ToValidUTF8(ua, "")}
}
