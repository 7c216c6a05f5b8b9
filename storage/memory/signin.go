package memory

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/signin"
)

// signInStore holds browser sign-in sessions (package signin). Its zero value is ready to use.
//
// Expired sessions are dropped when read, and all of them whenever the map has doubled since the last
// sweep, so the map stays within twice the live sessions (at least minSignInSweep) at O(1) amortised
// cost per session.
type signInStore struct {
	mu       sync.Mutex
	sessions map[string]signin.Session
	sweepAt  int
}

const minSignInSweep = 1024

var _ signin.Storage = (*MemoryStore)(nil)

// CreateSignInSession implements signin.Storage.
func (s *MemoryStore) CreateSignInSession(_ context.Context, sess *signin.Session) error {
	if sess == nil || sess.IDHash == "" || sess.Subject == "" {
		return errors.New("memory: a sign-in session needs an ID hash and a subject")
	}
	st := &s.signIn
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.sessions == nil {
		st.sessions = map[string]signin.Session{}
	}
	if _, ok := st.sessions[sess.IDHash]; ok {
		return errors.New("memory: a sign-in session with this ID hash exists")
	}
	st.sessions[sess.IDHash] = *sess
	return nil
}

// GetSignInSession implements signin.Storage.
func (s *MemoryStore) GetSignInSession(_ context.Context, idHash string, now time.Time) (*signin.Session, error) {
	st := &s.signIn
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.sessions) >= max(st.sweepAt, minSignInSweep) {
		for k, v := range st.sessions {
			if !now.Before(v.ExpiresAt) {
				delete(st.sessions, k)
			}
		}
		st.sweepAt = 2 * len(st.sessions)
	}
	sess, ok := st.sessions[idHash]
	if !ok {
		return nil, fosite.ErrNotFound
	}
	if !now.Before(sess.ExpiresAt) {
		delete(st.sessions, idHash)
		return nil, fosite.ErrNotFound
	}
	return &sess, nil
}

// DeleteSignInSession implements signin.Storage.
func (s *MemoryStore) DeleteSignInSession(_ context.Context, idHash string) error {
	st := &s.signIn
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.sessions, idHash)
	return nil
}
