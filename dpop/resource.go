package dpop

import (
	"context"
	"net/http"
	"strings"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// ErrInvalidToken is invalid_token (RFC 6750 §3.1) as a protected resource answers it about DPoP (RFC
// 9449 §7.1, §7.2): a bound access token presented as a bearer token, or a bearer token presented with
// the DPoP scheme.
var ErrInvalidToken = pending.NewError("invalid_token", "The access token is not valid for this request.", http.StatusUnauthorized)

// AccessToken returns the access token of a request to a protected resource and the scheme of its
// Authorization header, "DPoP" (RFC 9449 §7.1) or "Bearer" (RFC 6750 §2.1), compared without regard to
// case; both empty when the header has neither. A token in a form or query is not looked at.
func AccessToken(r *http.Request) (token, scheme string) {
	h := r.Header.Get("Authorization")
	name, value, ok := strings.Cut(h, " ")
	value = strings.TrimLeft(value, " ")
	if !ok || value == "" || strings.ContainsAny(value, " \t") {
		return "", ""
	}
	switch {
	case strings.EqualFold(name, TokenType):
		return value, TokenType
	case strings.EqualFold(name, "Bearer"):
		return value, "Bearer"
	}
	return "", ""
}

// CheckResource checks a request to a protected resource made with an access token (RFC 9449 §7):
// token and scheme as AccessToken returned them, jkt what the token is bound to (BoundTo of its session,
// or the cnf.jkt of a JWT or an introspection response; "" for a bearer token), and urls the resource's
// public URLs (a proof's htu must name one).
//
//   - With the DPoP scheme the token must be bound, and the request must carry a proof, for this method
//     and URL, with ath the token's hash, made with the key the token is bound to (§7.1, §4.3 check 12).
//   - With the Bearer scheme the token must not be bound: a resource that accepts both schemes "MUST
//     reject a DPoP-bound access token received as a bearer token" (§7.2).
//
// Errors: ErrInvalidToken, ErrInvalidProof, ErrUseNonce (with a fresh nonce), server_error. Write them
// with WriteResourceError.
func (v *Verifier) CheckResource(ctx context.Context, r *http.Request, urls []string, token, scheme, jkt string) error {
	switch {
	case scheme == "Bearer" && jkt != "":
		return ErrInvalidToken.WithHint("The access token is bound to a DPoP key: present it with the DPoP scheme and a proof.")
	case scheme == "Bearer":
		return nil
	case scheme != TokenType:
		return ErrInvalidToken.WithHint("An access token is required.")
	case jkt == "":
		return ErrInvalidToken.WithHint("The access token is not bound to a DPoP key: present it with the Bearer scheme.")
	}
	proof, err := ProofOf(r)
	if err != nil {
		return err
	}
	if proof == "" {
		return ErrInvalidProof.WithHint("The request lacks the DPoP proof that must come with a DPoP-bound access token.")
	}
	p, err := v.Verify(ctx, proof, Target{Method: r.Method, URLs: urls, AccessToken: token})
	if err != nil {
		return err
	}
	if p.JKT != jkt {
		return ErrInvalidProof.WithHint("The DPoP proof is made with another key than the one the access token is bound to.")
	}
	return nil
}

// WriteResourceError answers a refused request to a protected resource (RFC 9449 §7.1, RFC 6750 §3):
// 401 with a DPoP challenge naming the error, its description and the accepted algorithms, the
// DPoP-Nonce header for use_dpop_nonce, and the error as a JSON body. A server_error is 500 without a
// challenge.
func (v *Verifier) WriteResourceError(rw http.ResponseWriter, err error) {
	rfc := rfc6749.Sanitize(err)
	if rfc.CodeField >= http.StatusInternalServerError {
		rfc6749.WriteJSON(rw, rfc.CodeField, map[string]string{"error": rfc.ErrorField})
		return
	}
	desc := rfc.GetDescription()
	rw.Header().Set("WWW-Authenticate", `DPoP error="`+rfc.ErrorField+`", error_description="`+desc+`", algs="`+strings.Join(v.Algorithms(), " ")+`"`)
	SetNonceHeader(rw.Header(), err)
	rfc6749.WriteJSON(rw, http.StatusUnauthorized, map[string]string{"error": rfc.ErrorField, "error_description": desc})
}

// Challenge returns the DPoP challenge a protected resource adds to a 401 that names no error (RFC 9449
// §7.1): DPoP algs="…".
func (v *Verifier) Challenge() string {
	return `DPoP algs="` + strings.Join(v.Algorithms(), " ") + `"`
}

// Confirmation returns the cnf member an introspection response gives a token bound to jkt (RFC 9449
// §6.2, RFC 7800 §3.1), or nil when jkt is empty.
func Confirmation(jkt string) map[string]string {
	if jkt == "" {
		return nil
	}
	return map[string]string{"jkt": jkt}
}
