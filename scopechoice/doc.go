// Package scopechoice describes scopes that carry a choice, so that an approval page can ask the
// person to choose, and turns the choice into the scopes granted (seed 002, Google's device note: "for
// some of those scopes (like Health), we even need the user to choose the access level and profile").
//
// # The idea
//
// A client requests a plain scope, "photos" or "health". The server knows that granting it takes an
// answer or two from the person: how much ("see" or "see and delete"), and whose ("your own record" or
// "your family's"). The approval page asks those questions; the answers become the granted scope, the
// requested scope followed by each answer, separated by colons:
//
//	requested   questions                            granted
//	photos      level: read | manage                 photos:read
//	health      level: read | write; profile: own    health:read:own
//
// The client learns what it got from the token response's scope (RFC 6749 §3.3, §5.1: "if the issued
// access token scope is different from the one requested"); resource servers check the granted scope
// as any other.
//
// # Use
//
//	choices, err := scopechoice.NewSet(scopechoice.Choice{
//		Scope: "photos",
//		Questions: []scopechoice.Question{{Name: "level", Text: "What may it do with your photos?",
//			Options: []scopechoice.Option{{Value: "read", Label: "See them"}, {Value: "manage", Label: "See and delete them"}}}},
//	})
//	// The page: choices.For(requestedScopes) lists the questions; each answer is a form field named
//	// scopechoice.FieldName(scope, question) holding an option's Value.
//	// The approval:
//	g, err := choices.Grant(keptScopes, r.PostForm)
//	decision := pending.Decision{GrantedScopes: g.Scopes, ChosenScopes: g.Chosen, ...}
//
// A pending grant's approval (package pending) accepts a granted scope that was not requested only
// when Decision.ChosenScopes says it replaces a requested one; fosite's authorization code flow takes
// the granted scopes as given (AuthorizeRequester.GrantScope). Register every scope a choice can grant
// with the clients that may request the choice (Set.Scopes): fosite checks a refresh token's scopes
// against the client's.
//
// # Rules
//
// Every question needs an answer that is one of its options' values: a missing or unknown answer is
// ErrInvalidChoice, and nothing is granted. Scopes, question names and option values are limited to
// the characters A-Z a-z 0-9 - _ . (so a granted scope is an RFC 6749 §3.3 scope token, and one answer
// cannot pass for two). A Set is read-only once made and safe for concurrent use; when the options
// depend on the person (their profiles), make a Set per request.
package scopechoice
