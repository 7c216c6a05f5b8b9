// Package rfc6749 is the RFC 6749 plumbing every endpoint of this module shares and fosite v0.49.0 does
// not offer outside its own endpoints: reading a form body (POST, bounded, each parameter once),
// authenticating the client as the token endpoint does, writing JSON answers that must not be cached,
// turning an internal failure into a server_error that keeps its cause for the log, and keeping error
// descriptions within the characters RFC 6749 §5.2 allows.
//
// It is internal: the grant packages expose endpoints, not this plumbing.
package rfc6749
