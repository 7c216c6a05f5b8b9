package reciprocal

import (
	"context"
	"errors"
	"slices"
	"time"

	"golang.org/x/oauth2"

	"github.com/fosite-contrib/grants/internal/clock"
)

// StoredLink is what party A keeps of one user's link with a partner: one row per (partner client,
// user). The partner's token is sealed (see Links); the other fields are not secret.
type StoredLink struct {
	// ClientID is party B's client at party A: the client the reciprocal codes are minted for
	// (Offer.ClientID).
	ClientID string
	// Subject is the user at party A.
	Subject string
	// Sealed is party B's token to party A, sealed for (ClientID, Subject).
	Sealed []byte
	// Asked is the scope party B asked in return (draft §2.1), as it sent it.
	Asked string
	// RequestID is the request ID of the last grant party B accepted (Sent.RequestID): Offer.Replaces of
	// the next one, and what Issuer.Revoke takes. Empty when there is none (or it was revoked).
	RequestID string
	// Granted are the scopes of that grant.
	Granted []string
	// UpdatedAt is when the row was last written.
	UpdatedAt time.Time
}

// LinkStorage keeps party A's links. Implementations are safe for concurrent use; storage/memory and
// storage/sql implement it. Missing rows are fosite.ErrNotFound.
type LinkStorage interface {
	// SetReciprocalLink inserts the row of (l.ClientID, l.Subject) or replaces it.
	SetReciprocalLink(ctx context.Context, l *StoredLink) error
	// GetReciprocalLink returns the row of (clientID, subject).
	GetReciprocalLink(ctx context.Context, clientID, subject string) (*StoredLink, error)
	// DeleteReciprocalLink deletes the row of (clientID, subject).
	DeleteReciprocalLink(ctx context.Context, clientID, subject string) error
}

// Link is one user's link with a partner, as party A uses it: the partner's token (to send reciprocal
// grants with, draft §2.2.2), what the partner asked in return, and the grant it last accepted.
type Link struct {
	// ClientID is party B's client at party A; Subject the user at party A.
	ClientID string
	Subject  string
	// Token is the token party B issued party A for this user (from the authorization code grant
	// whose response carried `reciprocal`).
	Token *oauth2.Token
	// Asked is the scope party B asked in return (draft §2.1).
	Asked string
	// RequestID is the last grant party B accepted (Sent.RequestID); empty when none stands.
	RequestID string
	// Granted are that grant's scopes.
	Granted []string
	// UpdatedAt is when the link was last saved.
	UpdatedAt time.Time
}

// Links is party A's store of its users' links with partners: the partner's token is sealed with the
// grant's Vault (AES-256-GCM, bound to the row, under a purpose of its own so that a token of party B's
// TokenStorage does not open here), so that a link survives restarts and is shared by every instance
// without the token lying in the database in the clear. Get one from New (Grant.Links) when the store
// implements LinkStorage.
type Links struct {
	Storage LinkStorage
	Vault   *Vault
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Save writes l, replacing the user's earlier link with that partner.
func (s *Links) Save(ctx context.Context, l *Link) error {
	if l == nil || l.ClientID == "" || l.Subject == "" {
		return errors.New("reciprocal: a link needs a client ID and a subject")
	}
	sealed, err := s.Vault.seal(l.Token, purposeLink, l.ClientID, l.Subject)
	if err != nil {
		return err
	}
	l.UpdatedAt = clock.Now(s.Now)
	return s.Storage.SetReciprocalLink(ctx, &StoredLink{
		ClientID: l.ClientID, Subject: l.Subject, Sealed: sealed, Asked: l.Asked,
		RequestID: l.RequestID, Granted: slices.Clone(l.Granted), UpdatedAt: l.UpdatedAt,
	})
}

// Get returns the user's link with partner clientID, its token unsealed, or fosite.ErrNotFound;
// ErrUnsealable when the row was sealed under other secrets or tampered with.
func (s *Links) Get(ctx context.Context, clientID, subject string) (*Link, error) {
	st, err := s.Storage.GetReciprocalLink(ctx, clientID, subject)
	if err != nil {
		return nil, err
	}
	tok, err := s.Vault.open(st.Sealed, purposeLink, clientID, subject)
	if err != nil {
		return nil, err
	}
	return &Link{
		ClientID: st.ClientID, Subject: st.Subject, Token: tok, Asked: st.Asked,
		RequestID: st.RequestID, Granted: slices.Clone(st.Granted), UpdatedAt: st.UpdatedAt,
	}, nil
}

// Forget deletes the user's link with partner clientID (the user unlinked the accounts). Revoke what
// the link's last grant issued first (Issuer.Revoke), or the partner keeps its access.
func (s *Links) Forget(ctx context.Context, clientID, subject string) error {
	return s.Storage.DeleteReciprocalLink(ctx, clientID, subject)
}
