// Package outbound is the one HTTP client the server uses for every request it makes on its own:
// fetching a client's jwks_uri (private_key_jwt client authentication, RFC 7523 §2.2, and CIBA
// signed authentication requests), CIBA ping and push callbacks (OpenID CIBA Core §10.2, §10.3) and
// device-grant alerts through package outbox, SMS APIs (package notify) and Reciprocal OAuth calls.
//
// # Why one client
//
// Each of those URLs is chosen by someone else: a client registers its jwks_uri and its callback
// endpoint, a partner publishes its token endpoint. A server that fetches whatever URL it is given
// becomes a way into its own network (server-side request forgery): it can be pointed at
// 127.0.0.1:6379, at 10.0.0.1, at the cloud metadata service at 169.254.169.254, or at a server that
// answers with 600 MB. The rules below hold for every outbound request because they live in one
// place.
//
//	client := outbound.NewClient(outbound.Config{})             // production: the zero value
//	dev := outbound.NewClient(outbound.Config{AllowLoopback: true}) // a demo on one machine
//
// # What it enforces
//
//   - https only. Plain http is accepted only to a loopback host, and only with
//     Config.AllowLoopback (development). URLs with user info are refused.
//   - The address actually connected to is public. The client resolves a name itself, checks
//     every address with CheckAddr, and dials only if all of them pass; the dialer's Control hook
//     checks the address again just before connect(2). Loopback (unless AllowLoopback), private,
//     link-local (169.254.169.254 included), multicast, unspecified and reserved addresses are
//     refused, IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry, and NAT64,
//     6to4 and Teredo ranges (which embed an IPv4 address) are refused. Because the check is on the
//     dialled address, a name that resolves differently the second time (DNS rebinding) gains
//     nothing. "localhost" is loopback without asking DNS (RFC 6761 §6.3).
//   - No redirects. A 3xx answer is returned to the caller, which treats it as a failure; the
//     Location is never visited.
//   - A total timeout per request (Config.Timeout, default 10 s): resolution, connection, TLS,
//     sending, and reading the whole answer.
//   - A cap on the answer (Config.MaxResponseBytes, default 64 KiB; headers 64 KiB). Reading past
//     it is ErrResponseTooLarge, and the connection is closed at once: the server never reads (or
//     holds) more than the cap, and an answer is never silently cut short.
//   - No proxy from the environment. A proxy is used only when Config.Proxy names one.
//   - One attempt. The client never retries; callers that should retry (the outbox) decide when.
//   - Errors that tell a client nothing about the network. A failure to get an answer is an *Error
//     whose message is the same whether the port was closed, open but not speaking TLS or HTTP, or
//     filtered (ErrUnreachable); the cause is in Error.Err for the server's logs. A refused
//     destination wraps ErrForbidden.
//
// # Checking URLs before they are used
//
// CheckURL checks a URL when it is configured or registered (registration refuses a jwks_uri or a
// notification endpoint that fails it): https, a host, no user info or fragment, an IP literal that
// passes CheckAddr, no legacy numeric IPv4 notation (2130706433, 0x7f.1), no "localhost" unless
// loopback is allowed. A DNS name cannot be judged at registration — what it resolves to can
// change at any time — so CheckURL accepts it and the dialer refuses it at connect time if it
// resolves to a forbidden address.
//
// # Why not ory/x's resilient client
//
// fosite v0.49.0 already brings github.com/ory/x, whose httpx.NewResilientClient with
// ResilientClientDisallowInternalIPs is the client fosite's default JWKS fetcher is built for. It
// was judged against this package's needs and not used:
//
//   - it retries through go-retryablehttp (4 retries with back-off by default), as fosite's
//     default JWKS fetcher does: one client assertion whose jwks_uri pointed at a closed port cost
//     five connections, and a slow target holds a token request for minutes, where client
//     authentication must make one bounded attempt;
//   - its transports take the proxy from the environment (http.ProxyFromEnvironment), so with
//     HTTPS_PROXY set the address check sees only the proxy;
//   - it does not cap answers and follows up to ten redirects;
//   - its development switch allows every internal range at once (10/8, 172.16/12, 192.168/16 and
//     169.254/16 included), where development needs loopback only;
//   - its transports are package-level values built in init(), with OpenTelemetry instrumentation,
//     and take no TLS configuration (tests and private CAs need one);
//   - its dial errors pass through unchanged, telling a refused connection from a timeout.
//
// What it does well — checking the address in the dialer's Control hook against IANA's
// special-purpose registries — comes from code.dny.dev/ssrf, which this package uses too, for the
// registries (the check itself is CheckAddr, so that registration and dialling apply the same
// policy and loopback can be allowed on its own). The address checks of package outbox were
// generalised into this package; outbox.CheckAddr and outbox.ValidateTarget now call CheckAddr and
// CheckURL.
package outbound
