package clientauth

import (
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/ory/fosite"
)

// method is the client authentication method a request uses, as far as it can be told before the
// client is looked up.
type method int

const (
	methodNone      method = iota // no client named (fosite answers that credentials are missing)
	methodID                      // HTTP Basic, client_id with client_secret, or client_id alone (RFC 6749 §2.3.1, §2.1)
	methodAssertion               // client_assertion (RFC 7521 §4.2, RFC 7523 §2.2)
)

// credentials are what a request claims about its client, unverified.
type credentials struct {
	method   method
	clientID string
}

// Hints of readCredentials' refusals.
const (
	hintTwoMethods = "The request uses more than one client authentication method: send the client credentials in the Authorization header, in the body, or as a client assertion, not in two of them."
	hintTwoClients = "The client_id in the body does not match the client in the Authorization header."
	hintBasicID    = "The client id in the HTTP authorization header could not be decoded from 'application/x-www-form-urlencoded'."
)

// readCredentials reads which client a request names and how it authenticates, without checking
// anything against the store. RFC 6749 §2.3: "The client MUST NOT use more than one authentication
// method in each request", so HTTP Basic, client_secret in the body and a client assertion exclude
// one another; and a client_id sent beside HTTP Basic must name the same client.
func readCredentials(r *http.Request, form url.Values) (credentials, error) {
	basicID, _, basic := r.BasicAuth()
	postSecret := form.Get("client_secret") != ""
	assertion := form.Get("client_assertion") != "" || form.Get("client_assertion_type") != ""
	methods := 0
	for _, used := range []bool{basic, postSecret, assertion} {
		if used {
			methods++
		}
	}
	if methods > 1 {
		return credentials{}, fosite.ErrInvalidRequest.WithHint(hintTwoMethods)
	}
	bodyID := form.Get("client_id")
	switch {
	case basic:
		id, err := url.QueryUnescape(basicID)
		if err != nil {
			return credentials{}, fosite.ErrInvalidRequest.WithHint(hintBasicID).WithWrap(err).WithDebug(err.Error())
		}
		if bodyID != "" && bodyID != id {
			return credentials{}, fosite.ErrInvalidRequest.WithHint(hintTwoClients)
		}
		return credentials{method: methodID, clientID: id}, nil
	case assertion:
		// fosite takes the client from client_id, or else from the assertion's unverified "sub".
		id := bodyID
		if id == "" {
			id = assertionSubject(form.Get("client_assertion"))
		}
		return credentials{method: methodAssertion, clientID: id}, nil
	case bodyID != "":
		return credentials{method: methodID, clientID: bodyID}, nil
	}
	return credentials{}, nil
}

// maxAssertionBytes bounds the assertion assertionSubject decodes; a real one is a few hundred bytes.
const maxAssertionBytes = 16 << 10

// assertionSubject returns the "sub" claim of a JWS compact serialisation without verifying it, or ""
// when there is none. It only names the counter a failure is recorded under; fosite verifies the
// assertion.
func assertionSubject(jws string) string {
	if len(jws) > maxAssertionBytes {
		return ""
	}
	first := strings.IndexByte(jws, '.')
	if first < 0 {
		return ""
	}
	rest := jws[first+1:]
	second := strings.IndexByte(rest, '.')
	if second < 0 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(rest[:second])
	if err != nil {
		return ""
	}
	var claims struct {
		Sub interface{} `json:"sub"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return ""
	}
	sub, _ := claims.Sub.(string)
	return sub
}

// remoteNetwork returns the host of r.RemoteAddr as a canonical IP address, IPv6 addresses shortened to
// their /64 network and IPv4-mapped IPv6 addresses written as IPv4; anything unparsable as it is.
func remoteNetwork(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, err := ip.Prefix(64)
		if err == nil {
			return p.String()
		}
	}
	return ip.String()
}
