package dpop

import (
	"errors"
	"net/http"

	"github.com/fosite-contrib/grants/handler/pending"
)

// The error codes of RFC 9449, each defined once. At the token endpoint and the backchannel
// authentication endpoint they are RFC 6749 §5.2 errors (400); a protected resource answers them with
// 401 and a DPoP challenge (WriteResourceError).
var (
	// ErrInvalidProof is invalid_dpop_proof (RFC 9449 §5, §7.1): the proof is missing where one is
	// required, malformed, made for another request, stale, replayed, or made with another key than the
	// one the grant or the token is bound to. The hint says which.
	ErrInvalidProof = pending.NewError("invalid_dpop_proof", "The DPoP proof is invalid.", http.StatusBadRequest)
	// ErrUseNonce is use_dpop_nonce (RFC 9449 §8): the server requires a nonce it issued in the proof.
	// The error carries a fresh nonce: SetNonceHeader puts it in the DPoP-Nonce header, with which the
	// client retries.
	ErrUseNonce = pending.NewError("use_dpop_nonce", "The server requires a nonce in the DPoP proof: retry with the one in the DPoP-Nonce header.", http.StatusBadRequest)
)

// NonceHeader is the response header that carries a server nonce (RFC 9449 §8.1).
const NonceHeader = "DPoP-Nonce"

// nonceChallenge is the fresh nonce a use_dpop_nonce error carries.
type nonceChallenge struct{ nonce string }

func (n *nonceChallenge) Error() string { return "dpop: a fresh nonce is offered" }

// NonceOf returns the fresh nonce a use_dpop_nonce error carries, or "".
func NonceOf(err error) string {
	var c *nonceChallenge
	if errors.As(err, &c) {
		return c.nonce
	}
	return ""
}

// SetNonceHeader sets the DPoP-Nonce header (RFC 9449 §8.1) when err is a use_dpop_nonce error that
// carries a nonce, and reports whether it did. Call it before writing a token endpoint's or a
// backchannel endpoint's error: fosite's error writer sets no headers of its own.
func SetNonceHeader(h http.Header, err error) bool {
	n := NonceOf(err)
	if n == "" {
		return false
	}
	h.Set(NonceHeader, n)
	return true
}
