package ciba

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/clock"
)

// This file is the user_code of CIBA Core §7.1: "a secret code, such as a password or pin, that is
// known only to the user but verifiable by the OP", which a client that registered
// backchannel_user_code_parameter (§4) sends with every request, so that a request is only sent to the
// user's device when whoever started it knows the code (an answer to unsolicited prompts).

// UserCodeStorage keeps each user's CIBA user code as a keyed hash, never the code. Implementations are
// safe for concurrent use; storage/memory and storage/sql implement it. A user without a code is
// fosite.ErrNotFound.
type UserCodeStorage interface {
	// SetCIBAUserCode sets subject's code hash, replacing any earlier one.
	SetCIBAUserCode(ctx context.Context, subject, hash string, now time.Time) error
	// GetCIBAUserCode returns subject's code hash.
	GetCIBAUserCode(ctx context.Context, subject string) (hash string, err error)
	// DeleteCIBAUserCode removes subject's code.
	DeleteCIBAUserCode(ctx context.Context, subject string) error
}

// Limits of UserCodes.
const (
	// MinUserCodeLength and MaxUserCodeLength bound a user code, in characters.
	MinUserCodeLength = 4
	MaxUserCodeLength = 64
)

// DefaultUserCodeCheckLimits bound wrong user codes per user: 5 per 15 minutes. Past the limit every
// request for that user is refused with invalid_user_code, right code or not, until the window passes.
var DefaultUserCodeCheckLimits = pending.Limits{PerAccount: 5, Window: 15 * time.Minute}

// ErrWeakUserCode is what UserCodes.Set returns for a code shorter than MinUserCodeLength, longer than
// MaxUserCodeLength, or not printable text.
var ErrWeakUserCode = fmt.Errorf("ciba: a user code is %d to %d printable characters", MinUserCodeLength, MaxUserCodeLength)

// UserCodes is the UserCodeChecker over a UserCodeStorage, and the API an account page sets codes
// with. Codes are kept as HMAC-SHA256 under a key derived from the global secret for this purpose (bound
// to the user, so equal codes of two users differ), compared in constant time, and wrong codes are
// limited per user (Limits, in Attempts). Make one with NewUserCodes; it is safe for concurrent use.
type UserCodes struct {
	storage UserCodeStorage
	secrets fosite.GlobalSecretProvider
	limiter *pending.Limiter
	now     func() time.Time
}

var _ UserCodeChecker = (*UserCodes)(nil)

// NewUserCodes returns UserCodes over storage, keyed by the global secret of secrets, with wrong codes
// counted in attempts within limits (zero fields take DefaultUserCodeCheckLimits' values; only
// PerAccount and Window are used). now nil means time.Now.
func NewUserCodes(storage UserCodeStorage, attempts pending.AttemptStorage, secrets fosite.GlobalSecretProvider, limits pending.Limits, now func() time.Time) (*UserCodes, error) {
	if storage == nil || attempts == nil || secrets == nil {
		return nil, errors.New("ciba: NewUserCodes needs a UserCodeStorage, an AttemptStorage and the global secret")
	}
	limits = pending.Limits{PerAccount: limits.PerAccount, Window: limits.Window}.Or(DefaultUserCodeCheckLimits)
	return &UserCodes{storage: storage, secrets: secrets, now: now,
		limiter: &pending.Limiter{Storage: attempts, Scope: "ciba-user-code", Limits: limits}}, nil
}

// hash is the stored form of subject's code.
func (u *UserCodes) hash(ctx context.Context, subject, code string) (string, error) {
	secret, err := u.secrets.GetGlobalSecret(ctx)
	if err != nil {
		return "", err
	}
	if len(secret) < 32 {
		return "", errors.New("ciba: the global secret must be at least 32 bytes")
	}
	k := hmac.New(sha256.New, secret)
	k.Write([]byte("fosite-contrib/grants ciba user code v1"))
	m := hmac.New(sha256.New, k.Sum(nil))
	m.Write([]byte(subject))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)), nil
}

// Set sets subject's user code (ErrWeakUserCode when it is not MinUserCodeLength to MaxUserCodeLength
// printable characters).
func (u *UserCodes) Set(ctx context.Context, subject, code string) error {
	if subject == "" {
		return errors.New("ciba: a user code needs a subject")
	}
	if n := utf8.RuneCountInString(code); n < MinUserCodeLength || n > MaxUserCodeLength || !printable(code) {
		return ErrWeakUserCode
	}
	h, err := u.hash(ctx, subject, code)
	if err != nil {
		return err
	}
	return u.storage.SetCIBAUserCode(ctx, subject, h, clock.Now(u.now))
}

// Clear removes subject's user code; requests of clients that must send one are then refused for them.
func (u *UserCodes) Clear(ctx context.Context, subject string) error {
	err := u.storage.DeleteCIBAUserCode(ctx, subject)
	if errors.Is(err, fosite.ErrNotFound) {
		return nil
	}
	return err
}

// HasCode reports whether subject has set a code.
func (u *UserCodes) HasCode(ctx context.Context, subject string) (bool, error) {
	_, err := u.storage.GetCIBAUserCode(ctx, subject)
	if errors.Is(err, fosite.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// CheckUserCode implements UserCodeChecker (CIBA Core §7.1.2): nil when code is subject's; otherwise
// ErrInvalidUserCode, counted against subject, also when subject has set no code; past the limit
// ErrInvalidUserCode for every code until the window passes.
func (u *UserCodes) CheckUserCode(ctx context.Context, subject, code string) error {
	now := clock.Now(u.now)
	who := pending.Caller{Account: subject}
	if err := u.limiter.Allow(ctx, who, now); errors.Is(err, pending.ErrTooManyAttempts) {
		return ErrInvalidUserCode.WithHint("Too many wrong user codes were sent for this user; try again later.")
	} else if err != nil {
		return err
	}
	want, err := u.storage.GetCIBAUserCode(ctx, subject)
	if err != nil && !errors.Is(err, fosite.ErrNotFound) {
		return err
	}
	got, herr := u.hash(ctx, subject, code)
	if herr != nil {
		return herr
	}
	if err == nil && hmac.Equal([]byte(got), []byte(want)) {
		return nil
	}
	if err := u.limiter.Fail(ctx, who, now); err != nil {
		return err
	}
	return ErrInvalidUserCode
}
