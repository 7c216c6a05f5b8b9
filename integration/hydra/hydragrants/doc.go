// Package hydragrants puts the grants of github.com/fosite-contrib/grants — the device authorization
// grant (RFC 8628), OpenID CIBA and the one-time-passcode grant — into an Ory Hydra v2.3.0 server.
//
// Hydra v2.3.0 is built on fosite v0.49.0, the fosite this module extends, and lets a program that embeds
// it add fosite factories (driver.WithExtraFositeFactories, or RegistrySQL.WithExtraFositeFactories).
// Hydra calls them with its fosite configuration, its persister and its token strategy. This package
// supplies what is missing between the two.
//
// # Storage: this module's tables, Hydra's tokens
//
// Grants.Factory adapts a factory of package compose (compose.DeviceGrant.Factory, ...) so that its grant
// is stored in a Store instead of Hydra's persister, which implements none of this module's storage
// interfaces. The Store keeps the pending grants, attempt counters, OTP codes, the outbox and the audit
// log in this module's SQL store (storage/sql), opened in Hydra's own database — SQLite or PostgreSQL —
// on Hydra's connection pool, with this module's migrations creating its tables beside Hydra's. Clients,
// access tokens and refresh tokens are Hydra's persister's: a token a grant issues is a Hydra token, which
// Hydra's introspection, revocation, userinfo and refresh endpoints know like any other, and a client is
// whatever Hydra's admin API made it (Client reads the registration fields Hydra has no column for from
// the client's metadata).
//
// Refreshing is Hydra's too, with Hydra's own refresh handler: a grant's token lifetime ceiling
// (pending.Ceiling) caps the tokens the grant issues, but Hydra gives refreshed tokens its own lifespans
// (it does not apply pending.KeepCeiling, which this module's refresh handler does). To bound a
// cross-device grant under Hydra, set Ceiling.NoRefreshTokens.
//
// # One transaction
//
// Hydra's persister carries its transaction in the context, and Hydra's token endpoint runs a grant's
// token handler inside one. The Store's BeginTX, Commit and Rollback are the persister's, and the SQL
// store joins the transaction it finds in the context (sqlstore.WithContextTx). So a redemption consumes
// the pending grant and stores Hydra's tokens in one transaction: of any number of concurrent
// redemptions exactly one gets tokens, and a failure to store them spends nothing.
//
// # Approving a device through Hydra's login and consent
//
// DeviceConsent lets a person approve a device code through Hydra's own login and consent flow, with
// the operator's login and consent app unchanged: the verification page checks the code, then starts
// Hydra's flow for the device's client and scopes exactly as Hydra's authorization endpoint does for an
// authorization code (same challenges, same admin API), and approves the grant for the subject and the
// scopes Hydra's consent granted. See DeviceConsent for how the flow is bound to the browser that
// started it.
//
// # SQLite without cgo
//
// Hydra's SQLite support links mattn/go-sqlite3 through cgo behind a build tag. RegisterSQLite registers
// the pure-Go driver this module already uses under the name Hydra's dialect opens, translating Hydra's
// DSN options and giving errors the SQLSTATE Hydra's error handling reads; build the registry with
// driver.NewRegistrySQL, since driver.New refuses SQLite DSNs without the tag.
//
// # Discovery
//
// Discovery merges the grants' metadata (device_authorization_endpoint, backchannel_authentication_
// endpoint, otp_challenge_endpoint, their grant types) into Hydra's discovery document.
//
// # Limits
//
//   - SQLite and PostgreSQL only (Hydra also runs on MySQL and CockroachDB; this module's SQL store does
//     not).
//   - Pairwise subject identifiers apply to device approvals made through Hydra's consent. A CIBA or
//     OTP approval for a client with subject_type pairwise fails (the grant would otherwise issue the
//     public subject): use public subjects for such clients.
//   - Within Hydra's token endpoint, the revocation that answers a redemption losing a race (a replay)
//     belongs to the failed request's transaction and is rolled back with it; a replay arriving after
//     the first redemption has committed revokes, as everywhere in this module.
//   - Hydra v2.3.0 is the last Hydra release built on fosite v0.49.0 that is published as a Go module;
//     later releases carry fosite inside Hydra (github.com/ory/hydra/v2/fosite), whose types this
//     module's grants do not implement.
package hydragrants
