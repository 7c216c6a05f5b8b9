// Package clientauth makes repeated OAuth 2.0 client authentication cheap
// without weakening how client secrets are stored, and fetches the keys of
// private_key_jwt clients safely (see "Keys at jwks_uri" below).
//
// # The problem
//
// fosite stores client secrets as bcrypt hashes (cost 12 by default, roughly
// 250 ms of CPU per check) and verifies the secret on every request to the
// token endpoint (RFC 6749 §2.3.1). Clients of the device grant (RFC 8628
// §3.4) and of CIBA in poll mode poll that endpoint every few seconds, so a
// single waiting device costs one bcrypt per poll, and a few hundred waiting
// devices saturate a CPU core.
//
// # The fix
//
// [CachingHasher] wraps the real hasher and remembers, for a few minutes,
// that a given stored hash matched a given presented secret. It keeps a keyed
// MAC of the pair, never the secret. Secrets stay bcrypt-hashed at rest; only
// the repeated check of the same, already verified secret becomes cheap.
//
//	cfg := &fosite.Config{}
//	cfg.ClientSecretsHasher = &clientauth.CachingHasher{
//		Hasher: &fosite.BCrypt{Config: cfg},
//	}
//
// # Why caching does not change who gets in
//
// Compare(hash, secret) is a pure function of its two inputs: the same stored
// hash and the same presented secret always give the same answer. The cache
// stores exactly that answer, for successful comparisons only, so every
// decision it makes is the decision the wrapped hasher would have made.
// In particular:
//
//   - Rotating or changing a client's secret takes effect at once: the stored
//     hash changes, the cache key is derived from the stored hash, and the old
//     entries are simply never looked up again (they age out or are evicted).
//   - Removing a secret from a client (for example dropping an entry from a
//     fosite ClientWithSecretRotation's rotated hashes, switching the client to
//     token_endpoint_auth_method "none", or deleting the client) also takes
//     effect at once: fosite no longer passes that hash to Compare, so no
//     cached entry can answer for it.
//   - The only way to keep accepting a "withdrawn" secret is to leave its hash
//     where fosite reads it. That is true without the cache too: bcrypt would
//     accept it just the same. Withdraw a secret by changing or removing its
//     stored hash, never by a side flag that fosite does not check.
//   - Wrong secrets are never cached: every failed attempt still costs a full
//     bcrypt, so online guessing is exactly as slow as before.
//
// # What a memory leak reveals
//
// The cache holds 32-byte HMAC-SHA256 values under a random key generated
// per process, plus their expiry times. It never holds a secret. Someone who
// can read the process memory obtains the key and the MACs; with a stored
// hash in hand they could test candidate secrets for the cached pairs at
// HMAC speed rather than bcrypt speed. For the high-entropy random secrets an
// authorization server should issue (fosite generates 32 random bytes) this
// gains nothing; for weak, human-chosen secrets it removes bcrypt's slowdown
// for the pairs currently cached. The TTL (five minutes by default) and the
// entry bound limit that window. Note that such an attacker also sees the
// secrets themselves in request buffers, so the cache is not the weakest
// point in that scenario.
//
// # Timing
//
// The lookup goes through a map indexed by half of the MAC; the full MAC is
// then compared with crypto/subtle. The map probe is not constant-time, but
// the attacker cannot choose MAC values: without the per-process key, the MAC
// of any input they send is an unpredictable 32-byte string, so timing the
// probe tells them nothing about other entries. A hit is of course much faster
// than a miss, but a hit only happens for a secret that is correct, which the
// response itself already reveals to whoever sent it.
//
// # Keys at jwks_uri
//
// A private_key_jwt client (RFC 7523 §2.2) may register a jwks_uri instead of
// its keys, and fosite fetches it while authenticating the client, before the
// assertion's signature is checked: the URL and what it serves are the
// client's choice. [JWKSFetcher] replaces fosite's default fetcher (which
// retries, reads without bound, follows redirects and connects anywhere):
//
//	cfg.JWKSFetcherStrategy = &clientauth.JWKSFetcher{}
//
// It fetches through package outbound (https, public addresses only, no
// redirects, one attempt, 5 seconds), reads at most 64 KiB, caches each key
// set for an hour, fetches one URI at most once every 30 seconds even when an
// assertion names an unknown key ID, bounds the cache (1000 URIs, 8 MiB), and
// answers every failure as invalid_client (401) with one hint that says
// nothing about the network. Each limit is a field with that default.
package clientauth
