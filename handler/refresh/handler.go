package refresh

import (
	"context"
	"errors"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/storage"

	"github.com/fosite-contrib/grants/handler/pending"
)

// Handler is fosite's refresh token grant handler (RFC 6749 §6) that answers a lost rotation race as
// refresh token reuse: invalid_grant, and every token of the grant revoked (see the package doc).
// Create it with New.
type Handler struct {
	// Grant is fosite's handler, which does the work. Its TokenRevocationStorage must make
	// RotateRefreshToken conditional: fosite.ErrInactiveToken when the presented refresh token is no
	// longer active (storage/memory and storage/sql do).
	Grant *oauth2.RefreshTokenGrantHandler
}

var _ fosite.TokenEndpointHandler = (*Handler)(nil)

// New wraps grant.
func New(grant *oauth2.RefreshTokenGrantHandler) *Handler {
	return &Handler{Grant: grant}
}

// GrantTypes lists the grant type Handler serves, for discovery (RFC 8414 grant_types_supported).
func (h *Handler) GrantTypes() []fosite.GrantType {
	return []fosite.GrantType{fosite.GrantTypeRefreshToken}
}

// CanSkipClientAuth implements fosite.TokenEndpointHandler: never (RFC 6749 §6).
func (h *Handler) CanSkipClientAuth(ctx context.Context, req fosite.AccessRequester) bool {
	return h.Grant.CanSkipClientAuth(ctx, req)
}

// CanHandleTokenEndpointRequest implements fosite.TokenEndpointHandler: grant_type=refresh_token.
func (h *Handler) CanHandleTokenEndpointRequest(ctx context.Context, req fosite.AccessRequester) bool {
	return h.Grant.CanHandleTokenEndpointRequest(ctx, req)
}

// HandleTokenEndpointRequest implements fosite.TokenEndpointHandler (RFC 6749 §6): fosite's checks,
// including reuse detection of an inactive refresh token. When that detection itself loses a race
// (the store reports a concurrent change while revoking), the answer is still invalid_grant.
func (h *Handler) HandleTokenEndpointRequest(ctx context.Context, req fosite.AccessRequester) error {
	err := h.Grant.HandleTokenEndpointRequest(ctx, req)
	if err == nil {
		// fosite gave the new tokens the server's lifespans, from its own clock; a grant issued under a
		// pending.Ceiling keeps to it.
		pending.KeepCeiling(req.GetSession(), time.Now().UTC())
	}
	if lostRace(err) {
		return fosite.ErrInvalidGrant.WithWrap(causeOf(err)).
			WithHint("The refresh token is no longer valid.").
			WithDebug("The refresh token was used by a concurrent request: " + debugOf(err))
	}
	return err
}

// PopulateTokenEndpointResponse implements fosite.TokenEndpointHandler (RFC 6749 §6): fosite's
// rotation. When the store reports that the refresh token stopped being active between the check and
// the rotation (another request rotated or revoked it), every token of the grant is revoked and the
// answer is invalid_grant (RFC 6749 §5.2), as for any other reuse.
func (h *Handler) PopulateTokenEndpointResponse(ctx context.Context, req fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !h.Grant.CanHandleTokenEndpointRequest(ctx, req) {
		// fosite asks every handler to populate every response; its own refusal captures a stack trace.
		return fosite.ErrUnknownRequest
	}
	err := h.Grant.PopulateTokenEndpointResponse(ctx, req, resp)
	if !lostRace(err) {
		return err
	}
	sig := h.Grant.RefreshTokenStrategy.RefreshTokenSignature(ctx, req.GetRequestForm().Get("refresh_token"))
	if rerr := h.revokeGrant(ctx, sig, req.GetID()); rerr != nil {
		return fosite.ErrServerError.WithWrap(rerr).WithDebug("revoking the grant of a reused refresh token: " + debugOf(rerr))
	}
	return fosite.ErrInvalidGrant.WithWrap(causeOf(err)).
		WithHint("The refresh token was already used.").
		WithDebug("A concurrent request rotated the refresh token first; every token of the grant has been revoked.")
}

// revokeGrant deletes the presented refresh token and revokes every access and refresh token of the
// grant requestID, in one transaction when the store has them: what fosite does on reuse
// (RFC 6819 §5.2.2.3). A serialization failure is retried once.
func (h *Handler) revokeGrant(ctx context.Context, sig, requestID string) error {
	err := h.revokeGrantOnce(ctx, sig, requestID)
	if errors.Is(err, fosite.ErrSerializationFailure) {
		err = h.revokeGrantOnce(ctx, sig, requestID)
	}
	return err
}

func (h *Handler) revokeGrantOnce(ctx context.Context, sig, requestID string) (err error) {
	st := h.Grant.TokenRevocationStorage
	ctx, err = storage.MaybeBeginTx(ctx, st)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = storage.MaybeRollbackTx(ctx, st)
		}
	}()
	if err = st.DeleteRefreshTokenSession(ctx, sig); err != nil && !errors.Is(err, fosite.ErrNotFound) {
		return err
	}
	if err = st.RevokeRefreshToken(ctx, requestID); err != nil && !errors.Is(err, fosite.ErrNotFound) {
		return err
	}
	if err = st.RevokeAccessToken(ctx, requestID); err != nil && !errors.Is(err, fosite.ErrNotFound) {
		return err
	}
	return storage.MaybeCommitTx(ctx, st)
}

// lostRace reports whether err is fosite's answer to a store that found the refresh token gone or
// inactive, or a competing transaction, while rotating or revoking it: fosite turns those into
// invalid_request, keeping the store's error as the cause.
func lostRace(err error) bool {
	if err == nil || fosite.ErrorToRFC6749Error(err).ErrorField != fosite.ErrInvalidRequest.ErrorField {
		return false
	}
	return errors.Is(err, fosite.ErrInactiveToken) || errors.Is(err, fosite.ErrNotFound) ||
		errors.Is(err, fosite.ErrSerializationFailure)
}

// causeOf is the store's error inside fosite's answer err.
func causeOf(err error) error {
	if c := fosite.ErrorToRFC6749Error(err).Cause(); c != nil {
		return c
	}
	return err
}

// debugOf is the server-side description of err.
func debugOf(err error) string {
	if rfc := fosite.ErrorToRFC6749Error(err); rfc.DebugField != "" {
		return rfc.DebugField
	}
	return err.Error()
}
