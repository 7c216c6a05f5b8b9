package reciprocal

import (
	"context"
	"crypto/subtle"
	"errors"
	"time"

	"github.com/ory/fosite"
	"golang.org/x/oauth2"

	"github.com/fosite-contrib/grants/internal/clock"
)

// StoredToken is what party B keeps of a token party A issued it: one row per (partner client, user),
// replaced by each new reciprocal grant (draft §3). The token itself is sealed (see Vault); the other
// fields are not secret.
type StoredToken struct {
	// ClientID is party A's client ID at party B: the partner that issued the token.
	ClientID string
	// Subject is the user at party B the token is bound to: the subject of the access token party A
	// presented.
	Subject string
	// Sealed is the token, sealed by Vault.Seal for (ClientID, Subject).
	Sealed []byte
	// CodeHash is Vault.CodeHash of the code the token was redeemed with.
	CodeHash string
	// Scope is the scope party A granted, as its token response said (RFC 6749 §5.1), if it did.
	Scope string
	// ExpiresAt is when the access token expires; zero when party A did not say.
	ExpiresAt time.Time
	// UpdatedAt is when the row was last written.
	UpdatedAt time.Time
}

// TokenStorage keeps party B's tokens from its partners. Implementations are safe for concurrent use.
// Missing rows are fosite.ErrNotFound.
type TokenStorage interface {
	// SetReciprocalToken inserts the row of (t.ClientID, t.Subject) or replaces it.
	SetReciprocalToken(ctx context.Context, t *StoredToken) error
	// GetReciprocalToken returns the row of (clientID, subject).
	GetReciprocalToken(ctx context.Context, clientID, subject string) (*StoredToken, error)
	// DeleteReciprocalToken deletes the row of (clientID, subject).
	DeleteReciprocalToken(ctx context.Context, clientID, subject string) error
}

// Received is a token party B obtained from party A by redeeming a reciprocal code (draft §2.2.2),
// bound to the user of the access token party A presented.
type Received struct {
	// ClientID is party A's client ID at party B.
	ClientID string
	// Subject is the user at party B.
	Subject string
	// Token is party A's token response.
	Token *oauth2.Token
	// CodeHash identifies the code it was redeemed with (Vault.CodeHash).
	CodeHash string
}

// Receiver takes the tokens party B obtains. It returns an error when it could not keep the token; party
// A is then told the grant failed (5xx) and may send a new code. Tokens is the store-backed default.
type Receiver interface {
	ReceiveReciprocalToken(ctx context.Context, r *Received) error
}

// RedeemedChecker is an optional interface of a Receiver: whether the token of (clientID, subject) was
// last redeemed with the code of codeHash. GrantHandler uses it to answer a repeated request (party A
// retrying after a lost response) with 200 again instead of redeeming the code twice.
type RedeemedChecker interface {
	RedeemedWith(ctx context.Context, clientID, subject, codeHash string) (bool, error)
}

// Tokens is party B's store of partner tokens: a Receiver that seals each token and keeps it in a
// TokenStorage, and the API party B uses to read them back.
type Tokens struct {
	Storage TokenStorage
	Vault   *Vault
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

var (
	_ Receiver        = (*Tokens)(nil)
	_ RedeemedChecker = (*Tokens)(nil)
)

// ReceiveReciprocalToken implements Receiver: the token replaces any earlier one of the same partner
// and user (draft §3).
func (t *Tokens) ReceiveReciprocalToken(ctx context.Context, r *Received) error {
	sealed, err := t.Vault.Seal(r.Token, r.ClientID, r.Subject)
	if err != nil {
		return err
	}
	st := &StoredToken{ClientID: r.ClientID, Subject: r.Subject, Sealed: sealed, CodeHash: r.CodeHash, ExpiresAt: r.Token.Expiry.UTC(), UpdatedAt: clock.Now(t.Now)}
	if s, ok := r.Token.Extra("scope").(string); ok {
		st.Scope = s
	}
	return t.Storage.SetReciprocalToken(ctx, st)
}

// RedeemedWith implements RedeemedChecker.
func (t *Tokens) RedeemedWith(ctx context.Context, clientID, subject, codeHash string) (bool, error) {
	st, err := t.Storage.GetReciprocalToken(ctx, clientID, subject)
	if errors.Is(err, fosite.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return st.CodeHash != "" && subtle.ConstantTimeCompare([]byte(st.CodeHash), []byte(codeHash)) == 1, nil
}

// Token returns the token partner clientID issued for subject, unsealed, or fosite.ErrNotFound. The
// token may have expired or been revoked by the partner since; use it like any token from an
// authorization server (a 401 from the partner means the user must grant access again).
func (t *Tokens) Token(ctx context.Context, clientID, subject string) (*oauth2.Token, error) {
	st, err := t.Storage.GetReciprocalToken(ctx, clientID, subject)
	if err != nil {
		return nil, err
	}
	return t.Vault.Open(st.Sealed, clientID, subject)
}

// Forget deletes the token partner clientID issued for subject (the user unlinked the accounts).
func (t *Tokens) Forget(ctx context.Context, clientID, subject string) error {
	return t.Storage.DeleteReciprocalToken(ctx, clientID, subject)
}
