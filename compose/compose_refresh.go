package compose

import (
	"fmt"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"

	"github.com/fosite-contrib/grants/handler/refresh"
)

// RefreshTokenGrantFactory registers the refresh token grant (RFC 6749 §6): fosite's handler, wrapped by
// package handler/refresh so that of several concurrent refreshes with one refresh token exactly one
// gets tokens and the others get invalid_grant and revoke the grant, as fosite does for reuse. Use it
// instead of fosite's compose.OAuth2RefreshTokenGrantFactory.
//
// It has fosite's compose.Factory signature and works with any fosite.Configurator. storage must
// implement oauth2.TokenRevocationStorage with a conditional RotateRefreshToken (the memory and SQL
// stores of this module do); strategy must implement oauth2.AccessTokenStrategy and
// oauth2.RefreshTokenStrategy (fosite's compose.CommonStrategy does).
func RefreshTokenGrantFactory(config fosite.Configurator, storage, strategy interface{}) interface{} {
	st, ok := storage.(oauth2.TokenRevocationStorage)
	if !ok {
		panic(fmt.Sprintf("compose: RefreshTokenGrantFactory needs a storage implementing oauth2.TokenRevocationStorage, got %T", storage))
	}
	at, ok := strategy.(oauth2.AccessTokenStrategy)
	if !ok {
		panic(fmt.Sprintf("compose: RefreshTokenGrantFactory needs a strategy implementing oauth2.AccessTokenStrategy, got %T", strategy))
	}
	rt, ok := strategy.(oauth2.RefreshTokenStrategy)
	if !ok {
		panic(fmt.Sprintf("compose: RefreshTokenGrantFactory needs a strategy implementing oauth2.RefreshTokenStrategy, got %T", strategy))
	}
	return refresh.New(&oauth2.RefreshTokenGrantHandler{
		AccessTokenStrategy:    at,
		RefreshTokenStrategy:   rt,
		TokenRevocationStorage: st,
		Config:                 config,
	})
}
