package reciprocal

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fosite-contrib/grants/outbound"
)

// MaxResponseBytes bounds the body of a response read from the other party.
const MaxResponseBytes = 64 << 10

// ErrInsecureEndpoint is returned for an outbound URL that is not https (or loopback http, when allowed).
var ErrInsecureEndpoint = errors.New("reciprocal: the endpoint must use https (plain http only to a loopback address, when allowed)")

// CheckEndpoint reports whether u may be called: an absolute https URL, or an http URL whose host is a
// loopback address (localhost, 127.0.0.0/8, ::1) when allowLoopbackHTTP is set. Party B's token
// endpoint receives party B's own access token and party A's token endpoint returns tokens: neither
// may travel in clear text (RFC 6749 §3.2 requires TLS at the token endpoint).
func CheckEndpoint(u *url.URL, allowLoopbackHTTP bool) error {
	if u == nil || u.Host == "" || u.User != nil {
		return ErrInsecureEndpoint
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if allowLoopbackHTTP && isLoopback(u.Hostname()) {
			return nil
		}
	}
	return ErrInsecureEndpoint
}

// CheckEndpointString parses raw and checks it with CheckEndpoint.
func CheckEndpointString(raw string, allowLoopbackHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("reciprocal: invalid endpoint URL: %w", err)
	}
	return CheckEndpoint(u, allowLoopbackHTTP)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NewHTTPClient returns the client outbound calls use by default: the client of package outbound
// (the resolved address is checked when dialling, so private, link-local and — unless
// allowLoopbackHTTP — loopback addresses are refused; no proxy from the environment; answers larger
// than MaxResponseBytes are an error), with every request also checked with CheckEndpoint. Redirects
// are not followed (the 3xx answer is returned as it is, and treated as a failure), and each call,
// body included, is bounded by timeout (DefaultOutboundTimeout when zero). It makes one attempt.
func NewHTTPClient(timeout time.Duration, allowLoopbackHTTP bool) *http.Client {
	if timeout <= 0 {
		timeout = DefaultOutboundTimeout
	}
	c := outbound.NewClient(outbound.Config{AllowLoopback: allowLoopbackHTTP, Timeout: timeout, MaxResponseBytes: MaxResponseBytes})
	c.Transport = &checkedTransport{base: c.Transport, allowLoopbackHTTP: allowLoopbackHTTP}
	return c
}

// checkedTransport refuses requests to endpoints CheckEndpoint rejects.
type checkedTransport struct {
	base              http.RoundTripper
	allowLoopbackHTTP bool
}

func (t *checkedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := CheckEndpoint(r.URL, t.allowLoopbackHTTP); err != nil {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, err
	}
	return t.base.RoundTrip(r)
}
