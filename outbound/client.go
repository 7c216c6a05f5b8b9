package outbound

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Limits NewClient applies when Config leaves them zero.
const (
	// DefaultTimeout bounds one request from the first dial to the last byte of the answer.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxResponseBytes bounds the body of an answer.
	DefaultMaxResponseBytes = 64 << 10
	// MaxResponseHeaderBytes bounds the header of an answer (it is not configurable).
	MaxResponseHeaderBytes = 64 << 10
)

// ErrUnreachable is wrapped by the error of a request that got no usable answer: the name did not
// resolve, the connection was refused, reset or timed out, TLS failed, or what came back was not
// HTTP. Every such failure has the same message (see Error), and it may be temporary.
var ErrUnreachable = errors.New("outbound: no usable answer")

// ErrResponseTooLarge is returned when reading an answer's body beyond Config.MaxResponseBytes (or
// whose Content-Length announces more). Reading stops there and the connection is closed: an
// answer is never silently cut short.
var ErrResponseTooLarge = errors.New("outbound: response too large")

// Error is the error of a request that got no usable answer. Its message names the host and nothing
// else: whoever sees it (a client reading an error_description, say) cannot tell a closed port from
// an open one that does not speak TLS or HTTP, or a filtered one that timed out. Err holds the cause
// for the server's own logs.
type Error struct {
	// Host is the host and port of the request's URL.
	Host string
	// Err is the underlying failure (a *net.OpError, a TLS error, context.DeadlineExceeded, …).
	Err error
}

func (e *Error) Error() string {
	return "outbound: " + e.Host + ": no usable answer (the host could not be reached, or did not answer in time with HTTPS)"
}

// Unwrap returns ErrUnreachable and the cause, for errors.Is and errors.As.
func (e *Error) Unwrap() []error { return []error{ErrUnreachable, e.Err} }

// Config configures NewClient. The zero value is the production setting: https only, public
// addresses only, DefaultTimeout, DefaultMaxResponseBytes, system roots, no proxy.
type Config struct {
	// AllowLoopback permits loopback destinations — IP literals, "localhost" and names resolving to
	// loopback addresses — over http as well as https. For development only: an example server
	// talking to a client on the same machine. Private, link-local and every other forbidden address
	// stay refused.
	AllowLoopback bool
	// Timeout bounds each request: resolving, connecting, TLS, sending, and reading the whole answer
	// (until the body is read to its end or closed). Zero means DefaultTimeout.
	Timeout time.Duration
	// MaxResponseBytes bounds each answer's body: reading more is ErrResponseTooLarge. Zero means
	// DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// TLSConfig sets the TLS client configuration (a private CA, say); nil means the system roots.
	// It is cloned.
	TLSConfig *tls.Config
	// Proxy, when set, is the forward proxy every request goes through (http or https URL). Nothing
	// is read from the environment (HTTP_PROXY and friends are ignored). The proxy's own address is
	// not checked, and since the proxy resolves and connects, only the URL rules and IP-literal hosts
	// are checked here: the proxy must enforce the address policy for names. Nil means no proxy.
	Proxy *url.URL
	// LookupAddrs resolves a host name; nil means net.DefaultResolver. Tests use it to map names to
	// addresses without a DNS server. Every address it returns is checked before any is dialled.
	LookupAddrs func(ctx context.Context, host string) ([]netip.Addr, error)
}

// NewClient returns the http.Client for every call the server makes on its own: fetching a client's
// jwks_uri, CIBA ping and push callbacks, alert webhooks, SMS APIs, Reciprocal OAuth calls. See the
// package documentation for what it enforces. It never follows a redirect: a 3xx answer is returned
// as it is (http.ErrUseLastResponse), for the caller to treat as a failure. It makes one attempt per
// request; it never retries.
//
// Keep one client per configuration and reuse it: it pools connections (at most 2 idle per host,
// closed after 30 seconds idle). It is safe for concurrent use.
func NewClient(cfg Config) *http.Client {
	return &http.Client{
		Transport: newTransport(cfg),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// transport enforces the URL rules, the total timeout and the body cap on top of an http.Transport
// whose dialer enforces the address policy.
type transport struct {
	allowLoopback bool
	timeout       time.Duration
	maxBody       int64
	lookup        func(ctx context.Context, host string) ([]netip.Addr, error)
	proxyAddr     string // host:port of Config.Proxy: the one destination dialled without the check
	checked       *net.Dialer
	plain         *net.Dialer
	base          *http.Transport
}

func newTransport(cfg Config) *transport {
	t := &transport{
		allowLoopback: cfg.AllowLoopback,
		timeout:       cfg.Timeout,
		maxBody:       cfg.MaxResponseBytes,
		lookup:        cfg.LookupAddrs,
	}
	if t.timeout <= 0 {
		t.timeout = DefaultTimeout
	}
	if t.maxBody <= 0 {
		t.maxBody = DefaultMaxResponseBytes
	}
	if t.lookup == nil {
		t.lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	t.checked = &net.Dialer{
		Timeout: t.timeout,
		// Control runs with the address actually being connected to, after every resolution and
		// just before connect(2): the last word, whatever a resolver answered.
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: cannot parse the dial address", ErrForbidden)
			}
			return CheckAddr(ap.Addr(), t.allowLoopback)
		},
	}
	var proxy func(*http.Request) (*url.URL, error)
	if cfg.Proxy != nil {
		p := *cfg.Proxy
		proxy = http.ProxyURL(&p)
		t.proxyAddr = canonicalAddr(&p)
		t.plain = &net.Dialer{Timeout: t.timeout}
	}
	var tlsConfig *tls.Config
	if cfg.TLSConfig != nil {
		tlsConfig = cfg.TLSConfig.Clone()
	}
	t.base = &http.Transport{
		Proxy:                  proxy,
		DialContext:            t.dial,
		TLSClientConfig:        tlsConfig,
		TLSHandshakeTimeout:    t.timeout,
		ResponseHeaderTimeout:  t.timeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: MaxResponseHeaderBytes,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        30 * time.Second,
		ForceAttemptHTTP2:      true,
	}
	return t
}

// canonicalAddr is host:port of u, with the scheme's default port, as http.Transport dials it.
func canonicalAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if strings.EqualFold(u.Scheme, "https") {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// RoundTrip checks the URL, then sends req with the total timeout and caps the answer's body.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := checkURL(req.URL, t.allowLoopback); err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		if errors.Is(err, ErrForbidden) {
			return nil, err
		}
		return nil, &Error{Host: req.URL.Host, Err: err}
	}
	resp.Body = &cappedBody{rc: resp.Body, left: t.maxBody, max: t.maxBody, declared: resp.ContentLength, ctx: ctx, cancel: cancel, host: req.URL.Host}
	return resp, nil
}

// dial resolves the host itself, checks every address, and dials the addresses in turn; the
// dialer's Control checks each again. If any address of a name is forbidden, none is dialled.
func (t *transport) dial(ctx context.Context, network, address string) (net.Conn, error) {
	if t.proxyAddr != "" && strings.EqualFold(address, t.proxyAddr) {
		return t.plain.DialContext(ctx, network, address)
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("%w: bad dial address", ErrForbidden)
	}
	var addrs []netip.Addr
	switch a, ok := literal(host); {
	case ok:
		addrs = []netip.Addr{a}
	case isLoopbackHost(host):
		// RFC 6761 §6.3: localhost names are loopback without asking a resolver.
		addrs = []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()}
	default:
		addrs, err = t.lookup(ctx, host)
		if err != nil {
			return nil, err
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("resolve %s: no addresses", host)
		}
	}
	for _, a := range addrs {
		if err := CheckAddr(a, t.allowLoopback); err != nil {
			return nil, fmt.Errorf("%s: %w", host, err)
		}
	}
	var last error
	for _, a := range addrs {
		c, err := t.checked.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			return c, nil
		}
		if errors.Is(err, ErrForbidden) || ctx.Err() != nil {
			return nil, err
		}
		last = err
	}
	return nil, last
}

// cappedBody is an answer's body that fails, rather than ends, past the cap, and ends the request's
// timeout when closed or read to its end.
type cappedBody struct {
	rc       io.ReadCloser
	left     int64 // bytes that may still be read
	max      int64
	declared int64 // Content-Length, -1 when unknown
	ctx      context.Context
	cancel   context.CancelFunc
	host     string
	err      error // sticky
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.declared > b.max {
		return 0, b.fail(b.tooLarge())
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1] // one byte more than allowed tells "too large" from "exactly at the cap"
	}
	n, err := b.rc.Read(p)
	if int64(n) > b.left {
		n = int(b.left)
		b.left = 0
		return n, b.fail(b.tooLarge())
	}
	b.left -= int64(n)
	switch {
	case err == io.EOF && b.ctx.Err() != nil:
		// The end came after the deadline: the server may have ended the answer only because the
		// request was being torn down (a TLS close_notify cancels its handler, which then finishes
		// the chunked body). An answer cut by the timeout is a timeout, never a complete answer.
		return n, b.fail(&Error{Host: b.host, Err: context.Cause(b.ctx)})
	case err == io.EOF:
		b.err = io.EOF
		b.cancel()
	case err != nil:
		return n, b.fail(&Error{Host: b.host, Err: err})
	}
	return n, err
}

func (b *cappedBody) tooLarge() error {
	return fmt.Errorf("%w: %s sent more than %d bytes", ErrResponseTooLarge, b.host, b.max)
}

// fail makes err sticky and closes the connection: nothing more is read from it.
func (b *cappedBody) fail(err error) error {
	b.err = err
	_ = b.rc.Close()
	b.cancel()
	return err
}

func (b *cappedBody) Close() error {
	err := b.rc.Close()
	b.cancel()
	if b.err == nil {
		b.err = errors.New("outbound: read on a closed body")
	}
	return err
}
