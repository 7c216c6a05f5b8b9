package registration

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
)

// TokenVerifier decides whether an initial access token (RFC 7591 §3) may register a client. It returns
// nil to allow the registration, ErrInvalidToken (or an error wrapping it) to refuse it with 401, and
// any other error for a server error. It must be safe for concurrent use and should take the same time
// for every wrong token.
type TokenVerifier interface {
	VerifyInitialAccessToken(ctx context.Context, token string) error
}

// TokenVerifierFunc is a TokenVerifier as a function, for an application's own token check.
type TokenVerifierFunc func(ctx context.Context, token string) error

// VerifyInitialAccessToken implements TokenVerifier.
func (f TokenVerifierFunc) VerifyInitialAccessToken(ctx context.Context, token string) error {
	return f(ctx, token)
}

// StaticTokens is a fixed set of initial access tokens, kept as SHA-256 digests. A token is checked
// against every one of them in constant time.
type StaticTokens struct {
	digests [][sha256.Size]byte
}

// NewStaticTokens returns a verifier accepting exactly these tokens; empty strings are skipped, so a
// verifier made of none accepts nothing.
func NewStaticTokens(tokens ...string) *StaticTokens {
	s := &StaticTokens{}
	for _, t := range tokens {
		if t != "" {
			s.digests = append(s.digests, sha256.Sum256([]byte(t)))
		}
	}
	return s
}

// VerifyInitialAccessToken implements TokenVerifier.
func (s *StaticTokens) VerifyInitialAccessToken(_ context.Context, token string) error {
	d := sha256.Sum256([]byte(token))
	match := 0
	for i := range s.digests {
		match |= subtle.ConstantTimeCompare(d[:], s.digests[i][:])
	}
	if match != 1 || token == "" {
		return ErrInvalidToken
	}
	return nil
}

var (
	_ TokenVerifier = (*StaticTokens)(nil)
	_ TokenVerifier = TokenVerifierFunc(nil)
)
