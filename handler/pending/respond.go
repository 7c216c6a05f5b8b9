package pending

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

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
