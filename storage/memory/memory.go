// Package memory is an in-memory store for tests and demos: fosite's storage.MemoryStore plus the
// stores this module adds (pending grants, attempt counters, clients registered at run time).
//
// Nothing survives a restart. For anything users depend on, use storage/sql.
//
// # Housekeeping
//
// Nothing expired is needed (expiry is checked on read), but it takes memory: run Purge now and then,
// or RunPurge in the background. They delete what the SQL store's Purge deletes, with the same
// retention (WithRetention, 24 hours by default) for spent and expired pending grants and
// authorization codes, so that a replay is still recognised.
package memory

import (
	"context"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/mohae/deepcopy"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/storage"
	"github.com/ory/fosite/token/jwt"

	"github.com/fosite-contrib/grants/dpop"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/clock"
)

// MemoryStore embeds fosite's MemoryStore and adds this module's stores. Create it with New.
//
// Of fosite's MemoryStore it keeps the clients, users and RFC 7523 keys; codes, tokens and sessions
// live in a store of its own (tokens.go), which rotates refresh tokens atomically and can be purged.
type MemoryStore struct {
	*storage.MemoryStore

	opts options

	mu        sync.RWMutex
	grants    map[grantKey]*pending.Grant
	userCodes map[grantKey]string // (kind, user-code signature) → handle signature
	attempts  map[string]attempt
	clients   map[string]fosite.Client
	// grantsExp and attemptsExp queue the keys of grants and attempts by expiry, for Purge.
	grantsExp   expiryQueue[grantKey]
	attemptsExp expiryQueue[string]

	// Per-grant stores, each defined (and safe as a zero value) in that grant's file.
	tokens     tokenStore
	reciprocal reciprocalStore
	kiosk      kioskStore
	outbox     outboxStore
	jtis       jtiStore
	signIn     signInStore
	links      CIBALinkStore
	// Issue 16: enrolled CIBA devices and user codes, SMS reply codes, party A's reciprocal links.
	devices         CIBADeviceStore
	cibaUserCodes   CIBAUserCodeStore
	sms             CIBASMSStore
	reciprocalLinks ReciprocalLinkStore
}

// Option configures New.
type Option func(*options)

type options struct {
	now       func() time.Time
	retention time.Duration
}

// WithClock sets the clock the store reads where its callers give it no time (JWT ID expiry,
// pushed-request expiry, RunPurge). nil means time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithRetention sets how long Purge keeps pending grants, authorization codes and the grants' own
// records after they expire, so that a replay is still recognised. The default is 24 hours.
func WithRetention(d time.Duration) Option {
	return func(o *options) { o.retention = d }
}

func (s *MemoryStore) now() time.Time { return clock.Now(s.opts.now) }

type grantKey struct {
	kind pending.Kind
	sig  string
}

type attempt struct {
	start, end time.Time // end: when the window that began at start ends, for Purge
	count      int
}

var (
	_ pending.Storage        = (*MemoryStore)(nil)
	_ pending.AttemptStorage = (*MemoryStore)(nil)
	_ fosite.ClientManager   = (*MemoryStore)(nil)
)

// New returns an empty store.
func New(opts ...Option) *MemoryStore {
	o := options{retention: 24 * time.Hour}
	for _, opt := range opts {
		opt(&o)
	}
	return &MemoryStore{
		MemoryStore: storage.NewMemoryStore(),
		opts:        o,
		grants:      map[grantKey]*pending.Grant{},
		userCodes:   map[grantKey]string{},
		attempts:    map[string]attempt{},
		clients:     map[string]fosite.Client{},
	}
}

// SetClient adds or replaces a client. Safe to call while the server runs (fosite's Clients map is not).
func (s *MemoryStore) SetClient(_ context.Context, c fosite.Client) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[c.GetID()] = c
	return nil
}

// DeleteClient removes a client added with SetClient.
func (s *MemoryStore) DeleteClient(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[id]; !ok {
		return fosite.ErrNotFound
	}
	delete(s.clients, id)
	return nil
}

// GetClient returns a client added with SetClient, or else one in fosite's Clients map.
func (s *MemoryStore) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	s.mu.RLock()
	c, ok := s.clients[id]
	s.mu.RUnlock()
	if ok {
		return c, nil
	}
	return s.MemoryStore.GetClient(ctx, id)
}

// CreatePendingGrant implements pending.Storage.
func (s *MemoryStore) CreatePendingGrant(_ context.Context, g *pending.Grant) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := grantKey{g.Kind, g.HandleSignature}
	if _, ok := s.grants[key]; ok {
		return pending.ErrCollision
	}
	if g.UserCodeSignature != "" {
		ukey := grantKey{g.Kind, g.UserCodeSignature}
		if other, ok := s.userCodes[ukey]; ok {
			if og := s.grants[grantKey{g.Kind, other}]; og != nil && !og.Expired(g.CreatedAt) {
				return pending.ErrCollision
			}
		}
		s.userCodes[ukey] = g.HandleSignature
	}
	s.grants[key] = cloneGrant(g)
	s.grantsExp.add(key, g.ExpiresAt)
	return nil
}

// GetPendingGrant implements pending.Storage.
func (s *MemoryStore) GetPendingGrant(_ context.Context, kind pending.Kind, sig string, _ fosite.Session) (*pending.Grant, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	g, ok := s.grants[grantKey{kind, sig}]
	if !ok {
		return nil, pending.ErrNotFound
	}
	return cloneGrant(g), nil
}

// GetPendingGrantByUserCode implements pending.Storage.
func (s *MemoryStore) GetPendingGrantByUserCode(_ context.Context, kind pending.Kind, userSig string, now time.Time, _ fosite.Session) (*pending.Grant, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sig, ok := s.userCodes[grantKey{kind, userSig}]
	if !ok {
		return nil, pending.ErrNotFound
	}
	g, ok := s.grants[grantKey{kind, sig}]
	if !ok || g.Expired(now) {
		return nil, pending.ErrNotFound
	}
	return cloneGrant(g), nil
}

// DecidePendingGrant implements pending.Storage.
func (s *MemoryStore) DecidePendingGrant(_ context.Context, kind pending.Kind, sig string, d pending.Decision, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grants[grantKey{kind, sig}]
	if !ok {
		return pending.ErrNotFound
	}
	if g.State != pending.StatePending || g.Expired(now) {
		return pending.ErrStateChanged
	}
	c := cloneGrant(g)
	c.Subject, c.Actor, c.DecidedAt = d.Subject, d.Actor, now
	if d.Approved {
		c.State = pending.StateApproved
		req := c.Request.(*fosite.Request)
		if d.Session != nil {
			req.Session = cloneSession(d.Session)
		}
		req.GrantedScope = append(fosite.Arguments{}, d.GrantedScopes...)
		req.GrantedAudience = append(fosite.Arguments{}, d.GrantedAudience...)
		if !d.ExpiresAt.IsZero() {
			c.ExpiresAt = d.ExpiresAt
			s.grantsExp.add(grantKey{kind, sig}, c.ExpiresAt)
		}
	} else {
		c.State = pending.StateDenied
	}
	s.grants[grantKey{kind, sig}] = c
	return nil
}

// RecordPoll implements pending.Storage.
func (s *MemoryStore) RecordPoll(_ context.Context, kind pending.Kind, sig string, now time.Time, step time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grants[grantKey{kind, sig}]
	if !ok {
		return false, pending.ErrNotFound
	}
	slow := !g.LastPolledAt.IsZero() && now.Before(g.LastPolledAt.Add(g.Interval))
	if slow {
		g.Interval += step
	}
	g.LastPolledAt = now
	return slow, nil
}

// ConsumePendingGrant implements pending.Storage.
func (s *MemoryStore) ConsumePendingGrant(_ context.Context, kind pending.Kind, sig string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grants[grantKey{kind, sig}]
	if !ok {
		return pending.ErrNotFound
	}
	if g.State != pending.StateApproved {
		return pending.ErrStateChanged
	}
	g.State = pending.StateConsumed
	return nil
}

// IncrementAttempts implements pending.AttemptStorage.
func (s *MemoryStore) IncrementAttempts(_ context.Context, key string, now time.Time, window time.Duration) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.attempts[key]
	if a.count == 0 || !now.Before(a.start.Add(window)) {
		a = attempt{start: now, end: now.Add(window)}
		s.attemptsExp.add(key, a.end)
	}
	a.count++
	s.attempts[key] = a
	return a.count, nil
}

// GetAttempts implements pending.AttemptStorage.
func (s *MemoryStore) GetAttempts(_ context.Context, key string, now time.Time, window time.Duration) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a := s.attempts[key]
	if a.count == 0 || !now.Before(a.start.Add(window)) {
		return 0, nil
	}
	return a.count, nil
}

// cloneGrant returns a copy of g that shares nothing mutable with it: what the store keeps is never
// changed by its callers, and what a caller gets is theirs to change.
//
// It is on the polling path (every GetPendingGrant), so it allocates little: the scope and audience
// lists share one backing array and the form's values another, each sub-slice capped at its length so
// that an append never writes into a neighbour; the session, which only an approved grant carries, is
// the only deep copy.
func cloneGrant(g *pending.Grant) *pending.Grant {
	c := *g
	c.Request = cloneRequest(g.Request)
	if g.Extra != nil {
		c.Extra = make(map[string]string, len(g.Extra))
		for k, v := range g.Extra {
			c.Extra[k] = v
		}
	}
	if g.Callback != nil {
		cb := *g.Callback
		cb.SealedToken = slices.Clone(g.Callback.SealedToken)
		cb.SealedHandle = slices.Clone(g.Callback.SealedHandle)
		c.Callback = &cb
	}
	return &c
}

func cloneRequest(r fosite.Requester) fosite.Requester {
	if r == nil {
		return nil
	}
	rs, gs, ra, ga := r.GetRequestedScopes(), r.GetGrantedScopes(), r.GetRequestedAudience(), r.GetGrantedAudience()
	lists := make([]string, 0, len(rs)+len(gs)+len(ra)+len(ga))
	take := func(src []string) fosite.Arguments {
		start := len(lists)
		lists = append(lists, src...)
		return fosite.Arguments(lists[start:len(lists):len(lists)])
	}
	out := &fosite.Request{
		ID:                r.GetID(),
		RequestedAt:       r.GetRequestedAt(),
		Client:            r.GetClient(),
		RequestedScope:    take(rs),
		GrantedScope:      take(gs),
		RequestedAudience: take(ra),
		GrantedAudience:   take(ga),
		Form:              cloneForm(r.GetRequestForm()),
	}
	if s := r.GetSession(); s != nil {
		out.Session = cloneSession(s)
	}
	return out
}

// cloneSession deep-copies a session. fosite's own Clone copies by reflection (mohae/deepcopy), which
// was a tenth of a redemption's cost; the two session types fosite ships, and dpop.OpenIDSession around
// the first, are copied field by field here, with the same result (session_test.go checks it), and any
// other type uses its Clone.
func cloneSession(s fosite.Session) fosite.Session {
	switch s := s.(type) {
	case *openid.DefaultSession:
		if s == nil {
			return s.Clone()
		}
		c := *s
		if s.Claims != nil {
			cl := *s.Claims
			cl.Audience = cloneStrings(s.Claims.Audience)
			cl.AuthenticationMethodsReferences = cloneStrings(s.Claims.AuthenticationMethodsReferences)
			cl.Extra = cloneExtra(s.Claims.Extra)
			c.Claims = &cl
		}
		if s.Headers != nil {
			c.Headers = &jwt.Headers{Extra: cloneExtra(s.Headers.Extra)}
		}
		c.ExpiresAt = cloneExpiry(s.ExpiresAt)
		return &c
	case *dpop.OpenIDSession:
		if s == nil {
			return s.Clone()
		}
		inner := cloneSession(&s.DefaultSession).(*openid.DefaultSession)
		return &dpop.OpenIDSession{DefaultSession: *inner, JKT: s.JKT}
	case *fosite.DefaultSession:
		if s == nil {
			return s.Clone()
		}
		c := *s
		c.ExpiresAt = cloneExpiry(s.ExpiresAt)
		c.Extra = cloneExtra(s.Extra)
		return &c
	}
	return s.Clone()
}

func cloneStrings(v []string) []string {
	if v == nil {
		return nil
	}
	return append(make([]string, 0, len(v)), v...)
}

func cloneExpiry(m map[fosite.TokenType]time.Time) map[fosite.TokenType]time.Time {
	if m == nil {
		return nil
	}
	out := make(map[fosite.TokenType]time.Time, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// cloneExtra copies a claims map; values other than strings, numbers and booleans (nested maps and
// lists) are deep-copied the way fosite's Clone would.
func cloneExtra(m map[string]interface{}) map[string]interface{} {
	if m == nil {
		return nil
	}
	out := make(map[string]interface{}, len(m))
	for k, v := range m {
		switch v.(type) {
		case nil, string, bool, int, int64, float64:
			out[k] = v
		default:
			out[k] = deepcopy.Copy(v)
		}
	}
	return out
}

// cloneForm copies a form with one allocation for the map and one for all the values.
func cloneForm(f url.Values) url.Values {
	out := make(url.Values, len(f))
	n := 0
	for _, v := range f {
		n += len(v)
	}
	vals := make([]string, 0, n)
	for k, v := range f {
		start := len(vals)
		vals = append(vals, v...)
		out[k] = vals[start:len(vals):len(vals)]
	}
	return out
}
