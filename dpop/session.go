package dpop

import (
	"errors"
	"fmt"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
)

// Session is a fosite session that records the key its tokens are bound to (RFC 9449 §6). fosite's
// stores keep a token's session with the token (the SQL store of this module as JSON, the memory store
// as a copy), so the binding lives as long as the token: a refresh token hands it to the tokens of the
// next refresh, and introspection and resource servers read it back with BoundTo.
type Session interface {
	fosite.Session
	// DPoPThumbprint returns the JWK SHA-256 thumbprint (RFC 7638) of the key the tokens are bound to,
	// or "" when they are bearer tokens.
	DPoPThumbprint() string
	// SetDPoPThumbprint binds the tokens to the key with thumbprint jkt; "" unbinds them.
	SetDPoPThumbprint(jkt string)
}

// OpenIDSession is fosite's openid.DefaultSession that can carry a DPoP binding: use it (or any type
// implementing Session) as the session your server issues tokens with, in the token endpoint's
// NewAccessRequest as in every decision that stores one. It reads the JSON of an openid.DefaultSession,
// so sessions stored before it still load.
type OpenIDSession struct {
	openid.DefaultSession
	// JKT is the thumbprint of the key the tokens are bound to; empty for bearer tokens.
	JKT string `json:"dpop_jkt,omitempty"`
}

var (
	_ Session        = (*OpenIDSession)(nil)
	_ openid.Session = (*OpenIDSession)(nil)
)

// NewOpenIDSession returns an OpenIDSession around s (which it copies); nil makes an empty one.
func NewOpenIDSession(s *openid.DefaultSession) *OpenIDSession {
	if s == nil {
		s = openid.NewDefaultSession()
	}
	return &OpenIDSession{DefaultSession: *s}
}

// DPoPThumbprint implements Session.
func (s *OpenIDSession) DPoPThumbprint() string { return s.JKT }

// SetDPoPThumbprint implements Session.
func (s *OpenIDSession) SetDPoPThumbprint(jkt string) { s.JKT = jkt }

// Clone implements fosite.Session: a deep copy, binding included.
func (s *OpenIDSession) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	inner, _ := s.DefaultSession.Clone().(*openid.DefaultSession)
	if inner == nil {
		inner = &openid.DefaultSession{}
	}
	return &OpenIDSession{DefaultSession: *inner, JKT: s.JKT}
}

// ErrCannotBind is returned by Bind for a session that has no place for a binding.
var ErrCannotBind = errors.New("dpop: the session type cannot carry a DPoP binding: use dpop.OpenIDSession, a type implementing dpop.Session, or a JWT session")

// Bind binds the tokens of session s to the key with thumbprint jkt (RFC 9449 §6); "" unbinds them.
// A Session records it; a session that keeps the claims of a JWT access token (fosite's
// oauth2.JWTSessionContainer with *jwt.JWTClaims, as fosite's JWT strategy issues from) also gets the
// confirmation claim cnf: {"jkt": jkt} that a JWT access token carries (§6.1, RFC 7800 §3.1). Any other
// session is ErrCannotBind (unbinding one is a no-op).
func Bind(s fosite.Session, jkt string) error {
	done := false
	if ds, ok := s.(Session); ok {
		ds.SetDPoPThumbprint(jkt)
		done = true
	}
	if claims := jwtClaims(s); claims != nil {
		if jkt == "" {
			delete(claims.Extra, "cnf")
		} else {
			if claims.Extra == nil {
				claims.Extra = map[string]interface{}{}
			}
			claims.Extra["cnf"] = map[string]interface{}{"jkt": jkt}
		}
		done = true
	}
	if !done && jkt != "" {
		return fmt.Errorf("%w (got %T)", ErrCannotBind, s)
	}
	return nil
}

// BoundTo returns the thumbprint of the key the tokens of session s are bound to, or "" for bearer
// tokens: a Session's, else the cnf.jkt claim of a JWT session's claims.
func BoundTo(s fosite.Session) string {
	if ds, ok := s.(Session); ok {
		return ds.DPoPThumbprint()
	}
	if claims := jwtClaims(s); claims != nil {
		switch cnf := claims.Extra["cnf"].(type) {
		case map[string]interface{}:
			jkt, _ := cnf["jkt"].(string)
			return jkt
		case map[string]string:
			return cnf["jkt"]
		}
	}
	return ""
}

// jwtClaims returns the JWT claims a session keeps for a JWT access token, or nil.
func jwtClaims(s fosite.Session) *jwt.JWTClaims {
	js, ok := s.(oauth2.JWTSessionContainer)
	if !ok {
		return nil
	}
	c, _ := js.GetJWTClaims().(*jwt.JWTClaims)
	return c
}
