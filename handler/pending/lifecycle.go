package pending

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/storage"

	"github.com/fosite-contrib/grants/audit"

	"github.com/fosite-contrib/grants/internal/clock"
	"github.com/fosite-contrib/grants/internal/rfc6749"
	"github.com/fosite-contrib/grants/observe"
)

// Lifecycle is the life of one kind of pending grant, written once for every grant that has one:
//
//   - Start draws the handle (and the user code, when the grant has one), stores the grant, and draws
//     again when a code is taken;
//   - LookupUserCode finds the grant a person's typed code names, through the guessing limits;
//   - Decide checks an approval or a denial and records it, once;
//   - Load and Poll map a token request to the grant's answer (Check), counting polls for slow_down and
//     revoking on replay;
//   - Redeem consumes the approved grant and issues its tokens in one step.
//
// The grant packages (rfc8628, ciba, otp) add only their wire format, their endpoints and their
// out-of-band step. A Lifecycle is safe for concurrent use; do not change its fields once in use.
type Lifecycle struct {
	// Kind is the kind of grant this lifecycle serves.
	Kind Kind
	// Storage keeps the grants and the tokens they issue.
	Storage TokenStorage
	// Codes makes and recognises handles and user codes.
	Codes *Codes
	// Issuer issues tokens for approved grants; its Storage must be Storage.
	Issuer *TokenIssuer
	// UserCodeFormat is the format of this kind's user codes; zero means UserCodeBase20.
	UserCodeFormat UserCodeFormat
	// Limiter bounds user-code guessing (RFC 8628 §5.1); nil means no limit.
	Limiter *Limiter
	// HandleParam is the token-request parameter that carries the handle ("device_code",
	// "auth_req_id", "oob_code").
	HandleParam string
	// SlowDownStep is what a slow_down adds to the interval; zero means 5 seconds (RFC 8628 §3.5,
	// CIBA §11).
	SlowDownStep time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives replays; nil discards. Polls are not logged.
	Logger *slog.Logger
	// Replayed, when not nil, is told of every replay after the revocation (e.g. to audit it), with the
	// revocation's error.
	Replayed func(ctx context.Context, g *Grant, revocationErr error)
	// DenyEffects, when not nil, runs in the transaction of a denial the lifecycle makes on its own
	// (Flag of a pending grant), to queue what a denial sends (a CIBA ping or push error callback);
	// Kick, when not nil, is called after that transaction commits.
	DenyEffects func(ctx context.Context, g *Grant) error
	Kick        func()
	// Policy is the grant's cross-device security policy (see Policy); the zero value turns nothing on.
	Policy Policy
	// Audit receives an event whenever a policy acts and whenever a grant is flagged; nil records none.
	Audit audit.Sink
	// AuditTrail also records in Audit each grant's trail: its request (Start), its decision
	// (Decide), its redemption (Redeem, or Delivered for tokens that leave with the approval) and the
	// revocation a replay causes. For grants that do not record their own (CIBA; the device and OTP
	// grants do); false records none of these.
	AuditTrail bool
	// Observer, when not nil, is told about each step (start, lookup, decide, poll, load, redeem) and
	// its outcome; its context reaches the step's store calls.
	Observer observe.Grants
}

// MaxStartAttempts bounds the draws of Start when a code is taken. With 20^8 user codes, three
// collisions in a row mean the code space is nearly full.
const MaxStartAttempts = 3

// DefaultSlowDownStep is what a slow_down adds to the polling interval (RFC 8628 §3.5, CIBA §11).
const DefaultSlowDownStep = 5 * time.Second

func (l *Lifecycle) format() UserCodeFormat {
	if l.UserCodeFormat.Length == 0 {
		return UserCodeBase20
	}
	return l.UserCodeFormat
}

// Format returns the format of this kind's user codes.
func (l *Lifecycle) Format() UserCodeFormat { return l.format() }

// StartOptions say how Start gives a new grant its codes.
type StartOptions struct {
	// UserCode gives the grant a user code: a random one of the lifecycle's format, unless PresetUserCode
	// is set.
	UserCode bool
	// PresetUserCode, when set, returns the user code to use instead of a random one (a code printed in
	// a device's box). When that code is taken, Start calls OnCollision and, if it returns nil, tries
	// again.
	PresetUserCode func() (string, error)
	OnCollision    func(ctx context.Context, userCodeSignature string) error
	// BeforeCreate, when set, is called with the grant and its new handle before each attempt to store
	// it (e.g. to seal the handle into the grant, for a callback that must carry it).
	BeforeCreate func(g *Grant, handle string) error
}

// Started is what Start returns: the handle for the client and, when the grant has one, the normalised
// user code. Both are secrets: never log them.
type Started struct {
	Handle   string
	UserCode string
}

// Start stores g as a new grant of this kind: it draws the handle (and the user code when asked),
// stores their signatures in g, sets g.Kind, and g.State to PENDING unless set. When the handle or the
// user code is taken (ErrCollision), it draws again, up to MaxStartAttempts times.
func (l *Lifecycle) Start(ctx context.Context, g *Grant, opt StartOptions) (_ Started, err error) {
	ctx, done := l.step(ctx, observe.StepStart)
	defer done(&err)
	g.Kind = l.Kind
	if g.State == "" {
		g.State = StatePending
	}
	format := l.format()
	for attempt := 1; ; attempt++ {
		handle, sig, err := l.Codes.NewHandle(ctx)
		if err != nil {
			return Started{}, rfc6749.ServerError(err)
		}
		g.HandleSignature = sig
		var userCode string
		g.UserCodeSignature = ""
		if opt.UserCode || opt.PresetUserCode != nil {
			if opt.PresetUserCode != nil {
				userCode, err = opt.PresetUserCode()
			} else {
				userCode, err = format.Generate(l.Codes.Rand)
			}
			if err != nil {
				return Started{}, rfc6749.ServerError(err)
			}
			if g.UserCodeSignature, err = l.Codes.UserCodeSignature(ctx, l.Kind, userCode); err != nil {
				return Started{}, rfc6749.ServerError(err)
			}
		}
		if opt.BeforeCreate != nil {
			if err := opt.BeforeCreate(g, handle); err != nil {
				return Started{}, rfc6749.ServerError(err)
			}
		}
		err = l.Storage.CreatePendingGrant(ctx, g)
		if errors.Is(err, ErrCollision) && attempt < MaxStartAttempts {
			if opt.PresetUserCode != nil && opt.OnCollision != nil {
				if err := opt.OnCollision(ctx, g.UserCodeSignature); err != nil {
					return Started{}, err
				}
			}
			continue
		} else if err != nil {
			return Started{}, rfc6749.ServerError(err)
		}
		if err := l.keepOneOpen(ctx, g); err != nil {
			return Started{}, err
		}
		l.auditRequested(ctx, g)
		return Started{Handle: handle, UserCode: userCode}, nil
	}
}

// AttemptsLeft reports how many more wrong user codes who may type at the lifecycle's clock before
// LookupUserCode refuses them (Limiter.Remaining); limited is false when no limit applies to who.
func (l *Lifecycle) AttemptsLeft(ctx context.Context, who Caller) (left int, limited bool, err error) {
	return l.Limiter.Remaining(ctx, who, clock.Now(l.Now))
}

// LookupUserCode returns the live, pending grant of this kind whose user code a person typed (RFC 8628
// §3.3), normalised as §6.1 recommends. A code that names nothing counts as a failed guess by who (see
// Limiter); a code of a grant that was already decided, that expired, or that is burned
// (Policy.BurnAfterAccounts) gets the same answer, so that the answer never tells a real code from a
// wrong one, but is not a guess. Errors: ErrInvalidUserCode, ErrTooManyAttempts, server_error.
//
// The returned grant carries no session.
func (l *Lifecycle) LookupUserCode(ctx context.Context, typed string, who Caller) (_ *Grant, err error) {
	ctx, done := l.step(ctx, observe.StepLookup)
	defer done(&err)
	now := clock.Now(l.Now)
	if err := l.Limiter.Allow(ctx, who, now); err != nil {
		return nil, err
	}
	format := l.format()
	normalized := format.Normalize(typed)
	if len(normalized) != format.Length {
		// A code of the wrong length is told apart without a lookup, but it still counts as a guess.
		if err := l.Limiter.Fail(ctx, who, now); err != nil {
			return nil, err
		}
		return nil, ErrInvalidUserCode
	}
	sig, err := l.Codes.UserCodeSignature(ctx, l.Kind, normalized)
	if err != nil {
		return nil, rfc6749.ServerError(err)
	}
	g, err := l.Storage.GetPendingGrantByUserCode(ctx, l.Kind, sig, now, nil)
	switch {
	case errors.Is(err, ErrNotFound):
		if err := l.Limiter.Fail(ctx, who, now); err != nil {
			return nil, err
		}
		return nil, ErrInvalidUserCode
	case err != nil:
		return nil, rfc6749.ServerError(err)
	case g.State != StatePending:
		// The right code of a request already decided: no guess, and nothing to decide.
		return nil, ErrInvalidUserCode
	}
	if burned, err := l.burn(ctx, g, who, now); err != nil {
		return nil, err
	} else if burned {
		return nil, ErrInvalidUserCode
	}
	return g, nil
}

// ValidateApproval checks an approval of g and fills in its defaults: a subject and a session are
// required; unless set, the granted scopes and audience are everything requested, and nothing that was
// not requested may be granted; when openid is granted, the session must be an openid.Session whose ID
// token subject is the approval's subject. d.Approved is set.
func ValidateApproval(g *Grant, d *Decision) error {
	d.Approved = true
	if d.Subject == "" {
		return fosite.ErrInvalidRequest.WithHint("The subject of an approval is missing.")
	}
	if d.Session == nil {
		return fosite.ErrServerError.WithDebug("An approval needs a session to issue tokens with.")
	}
	requested := g.Request.GetRequestedScopes()
	if d.GrantedScopes == nil {
		d.GrantedScopes = requested
	}
	for _, s := range d.GrantedScopes {
		if !requested.Has(s) && !chosen(requested, d.ChosenScopes, s) {
			return fosite.ErrInvalidScope.WithHintf("The scope '%s' was not requested.", s)
		}
	}
	audience := g.Request.GetRequestedAudience()
	if d.GrantedAudience == nil {
		d.GrantedAudience = audience
	}
	for _, a := range d.GrantedAudience {
		if !audience.Has(a) {
			return fosite.ErrInvalidRequest.WithHintf("The audience '%s' was not requested.", a)
		}
	}
	if fosite.Arguments(d.GrantedScopes).Has("openid") {
		s, ok := d.Session.(openid.Session)
		if !ok || s.IDTokenClaims() == nil || s.IDTokenClaims().Subject != d.Subject {
			return fosite.ErrServerError.WithDebug("The openid scope is granted, so the session must be an openid.Session whose ID token subject is the approval's subject.")
		}
	}
	return nil
}

// chosen reports whether scope was chosen in place of a requested scope (Decision.ChosenScopes).
func chosen(requested fosite.Arguments, choices map[string][]string, scope string) bool {
	for r, scopes := range choices {
		if requested.Has(r) && slices.Contains(scopes, scope) {
			return true
		}
	}
	return false
}

// Decide records a decision on g, once: an approval is checked with ValidateApproval first (d is
// completed in place). also, when not nil, runs in the same transaction when the store is transactional
// (to queue a callback or an alert with the decision: both happen or neither does). It returns an error
// wrapping ErrStateChanged when g is no longer pending (decided meanwhile, or expired) — each grant
// answers that in its own words — invalid_scope or invalid_request for a bad approval, server_error
// otherwise.
func (l *Lifecycle) Decide(ctx context.Context, g *Grant, d *Decision, also func(ctx context.Context) error) (err error) {
	ctx, done := l.decideStep(ctx, d)
	defer done(&err)
	if d.Approved {
		if err := ValidateApproval(g, d); err != nil {
			return err
		}
		if err := l.checkProximity(ctx, g, d); err != nil {
			return err
		}
	}
	now := clock.Now(l.Now)
	if also != nil {
		if ctx, err = storage.MaybeBeginTx(ctx, l.Storage); err != nil {
			return rfc6749.ServerError(err)
		}
		defer func() {
			if err != nil {
				_ = storage.MaybeRollbackTx(ctx, l.Storage)
			}
		}()
	}
	err = l.Storage.DecidePendingGrant(ctx, l.Kind, g.HandleSignature, *d, now)
	if errors.Is(err, ErrStateChanged) || errors.Is(err, ErrNotFound) {
		return ErrInvalidUserCode.WithHint("The request was already approved, denied or has expired.").WithWrap(ErrStateChanged)
	} else if err != nil {
		return rfc6749.ServerError(err)
	}
	if also == nil {
		l.auditDecision(ctx, g, d)
		return nil
	}
	if err = also(ctx); err != nil {
		return rfc6749.ServerError(err)
	}
	if err = storage.MaybeCommitTx(ctx, l.Storage); err != nil {
		return rfc6749.ServerError(err)
	}
	l.auditDecision(ctx, g, d)
	return nil
}

// Handle returns the handle a token request carries in HandleParam: present, and only once (RFC 6749
// §3.2).
func (l *Lifecycle) Handle(req fosite.AccessRequester) (string, error) {
	values := req.GetRequestForm()[l.HandleParam]
	switch {
	case len(values) > 1:
		return "", fosite.ErrInvalidRequest.WithHintf("The '%s' parameter must not be included more than once.", l.HandleParam)
	case len(values) == 0 || values[0] == "":
		return "", fosite.ErrInvalidRequest.WithHintf("The '%s' parameter is missing.", l.HandleParam)
	}
	return values[0], nil
}

// Load reads the grant a token request names and returns it, the time it judged it at, and Check's
// answer: nil when the grant is approved and may be redeemed now; otherwise invalid_grant (unknown,
// another client's, or replayed — what the first redemption issued is then revoked), expired_token,
// access_denied or authorization_pending. accept, when not nil, may refuse a loaded grant before it
// is judged (e.g. a CIBA push-mode request, which is never polled); a grant it refuses is neither
// judged nor revoked. Load counts no poll: see Poll.
func (l *Lifecycle) Load(ctx context.Context, req fosite.AccessRequester, accept func(*Grant) error) (_ *Grant, _ time.Time, err error) {
	ctx, done := l.step(ctx, observe.StepLoad)
	defer done(&err)
	return l.load(ctx, req, accept)
}

// load is Load, not observed (Poll is observed as a poll).
func (l *Lifecycle) load(ctx context.Context, req fosite.AccessRequester, accept func(*Grant) error) (*Grant, time.Time, error) {
	sig, err := l.requestSignature(ctx, req)
	if err != nil {
		return nil, time.Time{}, err
	}
	g, err := l.Storage.GetPendingGrant(ctx, l.Kind, sig, req.GetSession())
	if err != nil {
		return nil, time.Time{}, lookupError(err)
	}
	return l.settle(ctx, g, accept, req.GetClient().GetID(), clock.Now(l.Now))
}

// requestSignature returns the signature of the handle a token request carries.
func (l *Lifecycle) requestSignature(ctx context.Context, req fosite.AccessRequester) (string, error) {
	handle, err := l.Handle(req)
	if err != nil {
		return "", err
	}
	return l.Codes.HandleSignature(ctx, handle)
}

// lookupError is the answer to a token request whose grant the store did not return.
func lookupError(err error) error {
	if errors.Is(err, ErrNotFound) {
		return fosite.ErrInvalidGrant.WithHint("The handle is unknown.")
	}
	return rfc6749.ServerError(err)
}

// settle judges a grant a token request found: accept first (a refusal returns the zero time), then
// Check at now; the tokens of a replayed grant are revoked.
func (l *Lifecycle) settle(ctx context.Context, g *Grant, accept func(*Grant) error, clientID string, now time.Time) (*Grant, time.Time, error) {
	if accept != nil {
		if err := accept(g); err != nil {
			return g, time.Time{}, err
		}
	}
	err := Check(g, clientID, now)
	if errors.Is(err, ErrReplayed) {
		l.revoke(ctx, g)
	}
	return g, now, err
}

// Poll is Load for a polled grant (RFC 8628 §3.4–3.5, CIBA §10.1 and §11): a pending grant's poll is
// counted, and one that came sooner than the grant's interval answers slow_down and raises the
// interval for good (Storage.RecordPoll).
func (l *Lifecycle) Poll(ctx context.Context, req fosite.AccessRequester, accept func(*Grant) error) (_ *Grant, _ time.Time, err error) {
	ctx, done := l.step(ctx, observe.StepPoll)
	defer done(&err)
	if ps, ok := l.Storage.(PollStorage); ok {
		return l.pollOnce(ctx, ps, req, accept)
	}
	g, now, err := l.load(ctx, req, accept)
	if !errors.Is(err, ErrAuthorizationPending) {
		return g, now, err
	}
	step := l.SlowDownStep
	if step <= 0 {
		step = DefaultSlowDownStep
	}
	slow, perr := l.Storage.RecordPoll(ctx, l.Kind, g.HandleSignature, now, step)
	if perr != nil {
		return g, now, rfc6749.ServerError(perr)
	}
	if slow {
		return g, now, ErrSlowDown
	}
	return g, now, err
}

// Prepare copies the approved grant g into the token request (see TokenIssuer.Prepare).
func (l *Lifecycle) Prepare(ctx context.Context, g *Grant, grantType fosite.GrantType, req fosite.AccessRequester) {
	l.Issuer.Prepare(ctx, g, grantType, req)
}

// Redeem consumes the approved grant the request names and issues its tokens in one step
// (TokenIssuer.Issue). If a concurrent redemption won, this one is treated as the replay it is: what
// the winner issued is revoked.
func (l *Lifecycle) Redeem(ctx context.Context, grantType fosite.GrantType, req fosite.AccessRequester, resp fosite.AccessResponder) (err error) {
	ctx, done := l.step(ctx, observe.StepRedeem)
	defer done(&err)
	sig, err := l.Codes.HandleSignature(ctx, req.GetRequestForm().Get(l.HandleParam))
	if err != nil {
		return err
	}
	err = l.Issuer.Issue(ctx, l.Kind, sig, grantType, req, resp)
	if errors.Is(err, ErrReplayed) {
		if g, gerr := l.Storage.GetPendingGrant(ctx, l.Kind, sig, req.GetSession()); gerr == nil {
			l.revoke(ctx, g)
		}
	}
	if err == nil {
		l.auditRedeemed(ctx, req)
	}
	return err
}

func (l *Lifecycle) revoke(ctx context.Context, g *Grant) {
	err := RevokeReplayed(ctx, l.Storage, g)
	if l.Logger != nil {
		attrs := []slog.Attr{slog.String("kind", string(g.Kind)), slog.String("client_id", g.ClientID()), slog.String("request_id", g.Request.GetID())}
		if err != nil {
			attrs = append(attrs, slog.String("revocation_error", err.Error()))
		}
		l.Logger.LogAttrs(ctx, slog.LevelWarn, "handle replayed; tokens it issued are revoked", attrs...)
	}
	l.auditReplay(ctx, g, err)
	if l.Replayed != nil {
		l.Replayed(ctx, g, err)
	}
}
