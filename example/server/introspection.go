package server

import (
	"context"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/rfc7662"
)

// demoResourceServer may introspect every token. DEMO: a real server registers each resource server
// as a client and lets it see the tokens whose audience names it (rfc7662.IssuedToOrFor), or keeps
// its own list.
const demoResourceServer = "demo-confidential"

// demoIntrospectionPolicy decides who may introspect which token (RFC 7662 §4): the demo resource
// server every token, any other client its own tokens and those meant for it.
func demoIntrospectionPolicy(ctx context.Context, caller fosite.Client, token fosite.AccessRequester) bool {
	return caller.GetID() == demoResourceServer || rfc7662.IssuedToOrFor(ctx, caller, token)
}
