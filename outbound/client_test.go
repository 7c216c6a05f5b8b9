package outbound_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/outbound"
)

// server is a real HTTPS server on 127.0.0.1 that counts the requests it got.
type server struct {
	*httptest.Server
	hits atomic.Int64
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) port() string {
	_, p, _ := net.SplitHostPort(s.Listener.Addr().String())
	return p
}

// config trusts the test server's certificate (issued for example.com and 127.0.0.1).
func (s *server) config(allowLoopback bool) outbound.Config {
	return outbound.Config{AllowLoopback: allowLoopback, TLSConfig: s.Client().Transport.(*http.Transport).TLSClientConfig}
}

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, `{"ok":true}`) }

// resolver maps names to addresses, as a DNS server would, and counts its lookups.
type resolver struct {
	hosts   map[string][]string
	lookups atomic.Int64
	// then, when set, answers every lookup after the first (a rebinding name server).
	then map[string][]string
}

func (r *resolver) lookup(_ context.Context, host string) ([]netip.Addr, error) {
	hosts := r.hosts
	if r.lookups.Add(1) > 1 && r.then != nil {
		hosts = r.then
	}
	var out []netip.Addr
	for _, a := range hosts[host] {
		out = append(out, netip.MustParseAddr(a))
	}
	if out == nil {
		return nil, errors.New("no such host")
	}
	return out, nil
}

// acceptCounter is a TCP listener on 127.0.0.1 that counts the connections made to it.
type acceptCounter struct {
	net.Listener
	accepted atomic.Int64
}

func newAcceptCounter(t *testing.T) *acceptCounter {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	a := &acceptCounter{Listener: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			a.accepted.Add(1)
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = l.Close() })
	return a
}

func (a *acceptCounter) port() string {
	_, p, _ := net.SplitHostPort(a.Addr().String())
	return p
}

// TestForbiddenNamesAreRefusedAtConnectTime resolves names through the client's resolver hook: a
// name resolving to a forbidden address is refused before any connection is made, whatever the URL
// looked like; the URL check could not have known.
func TestForbiddenNamesAreRefusedAtConnectTime(t *testing.T) {
	t.Parallel()
	l := newAcceptCounter(t)
	r := &resolver{hosts: map[string][]string{
		"localtest.example": {"127.0.0.1"},
		"v6loop.example":    {"::1"},
		"private.example":   {"10.0.0.1"},
		"metadata.example":  {"169.254.169.254"},
		"mapped.example":    {"::ffff:127.0.0.1"},
		"mixed.example":     {"93.184.215.14", "127.0.0.1"},
		"nat64.example":     {"64:ff9b::7f00:1"},
		"nowhere.example":   {"0.0.0.0"},
	}}
	c := outbound.NewClient(outbound.Config{LookupAddrs: r.lookup})
	for host := range r.hosts {
		t.Run(host, func(t *testing.T) {
			raw := "https://" + host + ":" + l.port() + "/jwks"
			require.NoError(t, outbound.CheckURL(raw, false), "a DNS name passes the URL check")
			_, err := c.Get(raw)
			require.ErrorIs(t, err, outbound.ErrForbidden)
			require.NotErrorIs(t, err, outbound.ErrUnreachable)
		})
	}
	require.Zero(t, l.accepted.Load(), "no connection reached the loopback listener")
	require.EqualValues(t, len(r.hosts), r.lookups.Load())
}

// TestLoopbackNeedsDevMode: the same name and server, refused in production and reached in dev mode.
func TestLoopbackNeedsDevMode(t *testing.T) {
	t.Parallel()
	s := newServer(t, ok)
	r := &resolver{hosts: map[string][]string{"example.com": {"127.0.0.1"}}}
	for _, tc := range []struct {
		name  string
		url   string
		allow bool
		ok    bool
	}{
		{"IP literal, production", s.URL, false, false},
		{"IP literal, dev mode", s.URL, true, true},
		{"name resolving to loopback, production", "https://example.com:" + s.port(), false, false},
		{"name resolving to loopback, dev mode", "https://example.com:" + s.port(), true, true},
		{"localhost, production", "https://localhost:" + s.port(), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := s.config(tc.allow)
			cfg.LookupAddrs = r.lookup
			before := s.hits.Load()
			resp, err := outbound.NewClient(cfg).Get(tc.url)
			if !tc.ok {
				require.ErrorIs(t, err, outbound.ErrForbidden)
				require.Equal(t, before, s.hits.Load())
				return
			}
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.JSONEq(t, `{"ok":true}`, string(body))
		})
	}
}

// TestHTTPSOnly: plain http goes only to loopback hosts in dev mode, and is refused before any
// resolution or connection otherwise.
func TestHTTPSOnly(t *testing.T) {
	t.Parallel()
	plain := httptest.NewServer(http.HandlerFunc(ok))
	t.Cleanup(plain.Close)
	_, port, _ := net.SplitHostPort(plain.Listener.Addr().String())
	r := &resolver{hosts: map[string][]string{"api.example": {"127.0.0.1"}}}

	_, err := outbound.NewClient(outbound.Config{LookupAddrs: r.lookup}).Get(plain.URL)
	require.ErrorIs(t, err, outbound.ErrForbidden)
	dev := outbound.NewClient(outbound.Config{AllowLoopback: true, LookupAddrs: r.lookup})
	_, err = dev.Get("http://api.example:" + port)
	require.ErrorIs(t, err, outbound.ErrForbidden, "http to a name is refused even when it resolves to loopback")
	require.Zero(t, r.lookups.Load())

	resp, err := dev.Get(plain.URL)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	resp, err = dev.Get("http://localhost:" + port)
	require.NoError(t, err, "localhost is loopback without asking a resolver")
	require.NoError(t, resp.Body.Close())
	require.Zero(t, r.lookups.Load())
}

// TestRebindingNameIsCheckedOnEveryConnection: a name answers 127.0.0.1 (allowed in dev mode) and
// then 10.0.0.1. The server closes every connection, so the second request dials again, and that
// dial is refused.
func TestRebindingNameIsCheckedOnEveryConnection(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		ok(w, r)
	})
	r := &resolver{hosts: map[string][]string{"example.com": {"127.0.0.1"}}, then: map[string][]string{"example.com": {"10.0.0.1"}}}
	cfg := s.config(true)
	cfg.LookupAddrs = r.lookup
	c := outbound.NewClient(cfg)
	resp, err := c.Get("https://example.com:" + s.port())
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	_, err = c.Get("https://example.com:" + s.port())
	require.ErrorIs(t, err, outbound.ErrForbidden)
	require.EqualValues(t, 1, s.hits.Load())
	require.EqualValues(t, 2, r.lookups.Load())
}

// TestRedirectsAreNotFollowed: the 3xx is the answer; its Location is never visited.
func TestRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	elsewhere := newServer(t, ok)
	for _, code := range []int{301, 302, 303, 307, 308} {
		s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, elsewhere.URL+"/stolen", code)
		})
		resp, err := outbound.NewClient(s.config(true)).Get(s.URL)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, code, resp.StatusCode)
		require.Equal(t, elsewhere.URL+"/stolen", resp.Header.Get("Location"))
	}
	require.Zero(t, elsewhere.hits.Load())
}

// TestHugeAnswerStopsAtTheCap: a server streams 600 MB (chunked: no Content-Length to refuse
// early). Reading stops with ErrResponseTooLarge at the cap, the connection is closed, and the
// server could write only what the cap and the kernel's socket buffers hold.
func TestHugeAnswerStopsAtTheCap(t *testing.T) {
	t.Parallel()
	const huge = 600 << 20
	var written atomic.Int64
	done := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
		defer close(done)
		w.Header().Set("Content-Type", "application/json")
		chunk := []byte(strings.Repeat(" ", 32<<10))
		for written.Load() < huge {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	})
	cfg := s.config(true)
	cfg.MaxResponseBytes = 64 << 10
	resp, err := outbound.NewClient(cfg).Get(s.URL)
	require.NoError(t, err)
	got, err := io.ReadAll(resp.Body)
	require.ErrorIs(t, err, outbound.ErrResponseTooLarge)
	require.Len(t, got, 64<<10, "exactly the cap was handed over, never more")
	_, err = resp.Body.Read(make([]byte, 1))
	require.ErrorIs(t, err, outbound.ErrResponseTooLarge, "the error sticks")
	require.NoError(t, resp.Body.Close())
	<-done // the handler ended: its writes failed once the connection was closed
	require.Less(t, written.Load(), int64(32<<20), "the server wrote %d bytes of %d", written.Load(), int64(huge))
}

func TestAnswerAtTheCap(t *testing.T) {
	t.Parallel()
	const limit = 1000
	for _, tc := range []struct {
		name      string
		size      int
		chunked   bool
		wantError bool
	}{
		{"exactly the cap", limit, false, false},
		{"exactly the cap, chunked", limit, true, false},
		{"one byte more", limit + 1, false, true},
		{"one byte more, chunked", limit + 1, true, true},
		{"empty", 0, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
				if tc.chunked {
					w.(http.Flusher).Flush()
				}
				_, _ = w.Write(make([]byte, tc.size))
			})
			cfg := s.config(true)
			cfg.MaxResponseBytes = limit
			resp, err := outbound.NewClient(cfg).Get(s.URL)
			require.NoError(t, err)
			defer func() { _ = resp.Body.Close() }()
			got, err := io.ReadAll(resp.Body)
			if tc.wantError {
				require.ErrorIs(t, err, outbound.ErrResponseTooLarge)
				return
			}
			require.NoError(t, err)
			require.Len(t, got, tc.size)
		})
	}
}

// TestDeclaredLengthOverTheCapIsRefusedUnread: a Content-Length above the cap fails the first read.
func TestDeclaredLengthOverTheCapIsRefusedUnread(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "629145600")
		_, _ = w.Write([]byte("{"))
	})
	resp, err := outbound.NewClient(s.config(true)).Get(s.URL)
	require.NoError(t, err)
	n, err := resp.Body.Read(make([]byte, 10))
	require.ErrorIs(t, err, outbound.ErrResponseTooLarge)
	require.Zero(t, n)
	require.NoError(t, resp.Body.Close())
}

// TestErrorsDoNotTellPortsApart: whatever is (or is not) listening behind a port, the error a
// caller gets reads the same once the port number is taken out. A client that registers a jwks_uri
// cannot use the server to scan ports.
func TestErrorsDoNotTellPortsApart(t *testing.T) {
	t.Parallel()
	listen := func(t *testing.T, serve func(net.Conn)) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { _ = l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go serve(c)
			}
		}()
		return l.Addr().String()
	}
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedAddr := closed.Addr().String()
	require.NoError(t, closed.Close())
	plainHTTP := httptest.NewServer(http.HandlerFunc(ok))
	t.Cleanup(plainHTTP.Close)

	targets := map[string]string{
		"closed port":             closedAddr,
		"open, closes at once":    listen(t, func(c net.Conn) { _ = c.Close() }),
		"open, speaks SSH":        listen(t, func(c net.Conn) { _, _ = io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n"); _ = c.Close() }),
		"open, speaks plain HTTP": plainHTTP.Listener.Addr().String(),
		"open, says nothing":      listen(t, func(c net.Conn) { <-release; _ = c.Close() }),
		"open, reads and resets": listen(t, func(c net.Conn) {
			_, _ = bufio.NewReader(c).ReadByte()
			_ = c.(*net.TCPConn).SetLinger(0)
			_ = c.Close()
		}),
	}
	c := outbound.NewClient(outbound.Config{AllowLoopback: true, Timeout: 300 * time.Millisecond})
	var first string
	for name, addr := range targets {
		_, port, _ := net.SplitHostPort(addr)
		_, err := c.Get("https://" + addr + "/jwks")
		require.ErrorIs(t, err, outbound.ErrUnreachable, name)
		var oe *outbound.Error
		require.ErrorAs(t, err, &oe, name)
		require.Error(t, oe.Err, "the cause is kept for the server's logs")
		msg := strings.ReplaceAll(err.Error(), port, "PORT")
		if first == "" {
			first = msg
		}
		require.Equal(t, first, msg, name)
	}
	require.Equal(t, `Get "https://127.0.0.1:PORT/jwks": outbound: 127.0.0.1:PORT: no usable answer (the host could not be reached, or did not answer in time with HTTPS)`, first)
}

// TestNoRetry: one request is one attempt, even after a 5xx.
func TestNoRetry(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	resp, err := outbound.NewClient(s.config(true)).Get(s.URL)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.EqualValues(t, 1, s.hits.Load())
}

// TestTimeoutCoversTheBody: a server that sends its header and then stalls fails the read of the
// body when Config.Timeout runs out (it bounds the whole request, not just the header).
func TestTimeoutCoversTheBody(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		_, _ = io.WriteString(w, `{"keys":[`)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	cfg := s.config(true)
	cfg.Timeout = 2 * time.Second // ample for connecting and the header even on a loaded machine
	resp, err := outbound.NewClient(cfg).Get(s.URL)
	require.NoError(t, err)
	_, err = io.ReadAll(resp.Body)
	require.ErrorIs(t, err, outbound.ErrUnreachable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NoError(t, resp.Body.Close())
}

// TestConfiguredProxy: with Config.Proxy, requests go through the proxy (here on loopback, which the
// policy would refuse as a destination), names are left to the proxy, and IP-literal destinations
// are still checked here.
func TestConfiguredProxy(t *testing.T) {
	t.Parallel()
	connects := make(chan string, 4)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodConnect {
			connects <- r.Host
		}
		w.WriteHeader(http.StatusForbidden) // this proxy refuses everything
	}))
	t.Cleanup(proxy.Close)
	pu, err := url.Parse(proxy.URL)
	require.NoError(t, err)
	c := outbound.NewClient(outbound.Config{Proxy: pu, LookupAddrs: func(context.Context, string) ([]netip.Addr, error) {
		t.Error("names are resolved by the proxy")
		return nil, errors.New("unexpected lookup")
	}})
	_, err = c.Get("https://api.example/jwks")
	require.ErrorIs(t, err, outbound.ErrUnreachable)
	require.Equal(t, "api.example:443", <-connects)

	_, err = c.Get("https://10.0.0.1/jwks")
	require.ErrorIs(t, err, outbound.ErrForbidden)
	_, err = c.Get("http://api.example/jwks")
	require.ErrorIs(t, err, outbound.ErrForbidden)
	require.Empty(t, connects)
}

// TestTLSIsVerified: a certificate the client does not trust is a failure like any other.
func TestTLSIsVerified(t *testing.T) {
	t.Parallel()
	s := newServer(t, ok)
	_, err := outbound.NewClient(outbound.Config{AllowLoopback: true, TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}}).Get(s.URL)
	require.ErrorIs(t, err, outbound.ErrUnreachable)
	require.Zero(t, s.hits.Load())
}
