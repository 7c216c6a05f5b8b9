// Package clientauth makes OAuth 2.0 client authentication cheap for the
// clients that get it right and bounded for those that do not, without
// weakening how client secrets are stored: CachingHasher remembers verified
// secrets, Limiter counts failures and refuses, without a hash, what would
// need one past a limit, and JWKSFetcher fetches the keys of private_key_jwt
// clients safely (see "Keys at jwks_uri" below).
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
// # Failed authentications: Limiter
//
// The cache does nothing for wrong secrets: each costs a full bcrypt, so a
// dozen wrong secrets per second keep two cores busy and every other client
// waits. [Limiter] is a fosite.ClientAuthenticationStrategy in front of
// fosite's own. It counts failed client authentications per network address
// and per client ID, in the store (pending.AttemptStorage), so the limits
// hold across server instances; and once a limit is reached it refuses the
// attempts that would cost a hash, before the hash is computed.
//
//	hasher := &clientauth.CachingHasher{Hasher: &fosite.BCrypt{Config: cfg}}
//	limiter := &clientauth.Limiter{Storage: store}
//	cfg.ClientSecretsHasher = hasher
//	cfg.ClientAuthenticationStrategy = limiter.AuthenticateClient
//	provider := compose.Compose(cfg, store, strategy, factories...)
//	limiter.Next = provider.Fosite.DefaultClientAuthenticationStrategy
//
// The Limiter refuses a hash through the CachingHasher: it hands its
// decision to Compare in the request's context, and Compare asks for it only
// on a cache miss. fosite must therefore compare secrets with a CachingHasher
// (with another Hasher the address limit still applies to client assertions,
// but nothing stops a hash). Nothing new is exposed: Compare's answer for a
// cached pair is unchanged, the decision never sees the secret, and a refusal
// is the same whatever secret was presented.
//
// Every endpoint that authenticates clients through fosite's
// AuthenticateClient is covered: the token endpoint, the device, CIBA and OTP
// endpoints of this module, and the introspection and revocation endpoints of
// handler/rfc7662 and handler/rfc7009. (fosite's own NewIntrospectionRequest
// compares secrets by itself and is not.)
//
// # The rules
//
//   - One method per request (RFC 6749 §2.3: "The client MUST NOT use more
//     than one authentication method in each request"): HTTP Basic,
//     client_secret in the body and a client assertion exclude one another,
//     and a client_id in the body beside HTTP Basic must name the same
//     client. Otherwise: 400 invalid_request, not counted.
//   - A failure is any 4xx answer of the wrapped strategy to a request that
//     names a client: a wrong or missing secret, a wrong method, an unknown
//     client, a bad, replayed or unverifiable client assertion. It counts
//     once for the address, and once for the client ID when that client is
//     registered (an unknown ID has no secret to protect, and counting it
//     would let anyone create counters). A 5xx is the server's trouble and
//     does not count. A counter at its limit is read, not written again, so
//     a blocked address costs the store one read per request.
//   - An address at its limit is refused every attempt that needs a hash (a
//     secret not verified recently) and every client assertion, before the
//     assertion is parsed (so its keys are not fetched either).
//   - A client ID at its limit is refused, from any address, the attempts
//     that need a hash, except from an address the client authenticated from
//     with a checked secret in the last one to two Remember periods. Those
//     refusals count against their address. Client assertions are not
//     refused by the client limit: they need no hash, and their key fetches
//     are the fetcher's to bound per client.
//   - A secret CachingHasher has verified recently needs no hash, so it is
//     never refused: not by the client limit, and not even from a blocked
//     address (it is not a guess: whoever sends it holds the secret).
//   - A refusal is 429 temporarily_unavailable (RFC 6585), the same answer as
//     this module's other failure limits (pending.ErrTooManyAttempts). Not
//     401 invalid_client: the secret was not checked, and a legitimate client
//     refused that way would be told its credentials are wrong and might give
//     up on them; a 429 says "later", which is the truth. Nothing in it
//     depends on the secret presented, so it tells a guesser nothing. There
//     is no Retry-After: fosite's error writers have no place for it, and the
//     window's end is not known exactly (at most Window after the refusal).
//
// # Limits and their defaults
//
//	PerAddress  20 failures per window per address (IPv6: per /64)  DefaultPerAddress
//	PerClient   100 failures per window per client ID               DefaultPerClient
//	Window      15 minutes, fixed, from a key's first failure      DefaultWindow
//	Remember    24 hours (a mark counts for one to two of them)     DefaultRemember
//
// A negative PerAddress or PerClient turns that limit off, a negative
// Remember the known-address exemption. The client limit is five times the
// address limit so that one address alone cannot reach it. The in-memory
// hint of blocked addresses (see below) holds at most 4096 addresses.
//
// # Why the legitimate client keeps working
//
// A flood from one address stops at that address's limit: 20 hashes per 15
// minutes, after which its guesses cost a read each. Other clients and other
// addresses are untouched. A flood from many addresses against one client
// can bring that client to its limit, and from then on an unverified secret
// for it is refused; but the client's own requests carry a secret that is
// either in CachingHasher's cache (a hit: no hash, never refused) or comes
// from an address it authenticated from before (a known address: its secret
// is checked, once per TTL, and cached again). The known-address marks live
// in the store, so they survive a restart and serve every instance, whose
// caches start empty. What the limit can still refuse is a right secret that
// is not cached, from an address the client never used successfully, while
// the client is under attack: the one case that cannot be told apart from a
// guess without the hash the limit exists to save.
//
// An address shared by an attacker and an innocent client (a NAT) is blocked
// for both, except for the innocent client's cached secret. Behind a reverse
// proxy set Limiter.Address, or every client shares the proxy's address.
//
// # Precision and cost
//
// Checking and counting are separate steps, so concurrent failures from one
// address may pass its limit by up to the number of attempts in flight when
// it is reached (a flood of 100 requests per second against bcrypt cost 10 on
// one core got 34 to 43 answers of 401 before the first 429). Windows are fixed,
// not sliding. A successful authentication from the cache costs the store
// nothing. A hash computation costs one or two reads first (address, client,
// and a known-address mark when the client is at its limit), and a success
// after it one read (and, once per Remember period, one write) to mark the
// address. A client assertion costs no read unless this process saw its
// address at the limit: a process keeps those addresses in memory, as a hint
// that is checked against the store, and learns of an address blocked
// through another instance at its first failure there.
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
