package outbound

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestControlChecksTheDialledAddress: the dialer's Control hook alone refuses a forbidden address,
// before connect(2): the listener never sees a connection. This is the check a resolver that lies
// (or rebinds between our lookup and the dial) cannot get around.
func TestControlChecksTheDialledAddress(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = l.Close() }()
	tr := newTransport(Config{})
	_, err = tr.checked.DialContext(context.Background(), "tcp", l.Addr().String())
	require.ErrorIs(t, err, ErrForbidden)

	require.NoError(t, l.(*net.TCPListener).SetDeadline(time.Now()))
	_, err = l.Accept()
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout(), "nothing connected: %v", err)

	dev := newTransport(Config{AllowLoopback: true})
	c, err := dev.checked.DialContext(context.Background(), "tcp", l.Addr().String())
	require.NoError(t, err, "the same dial is allowed in dev mode")
	require.NoError(t, c.Close())
}

// TestNoProxyFromTheEnvironment: HTTP_PROXY and friends are never consulted; only Config.Proxy is.
func TestNoProxyFromTheEnvironment(t *testing.T) {
	t.Parallel()
	require.Nil(t, newTransport(Config{}).base.Proxy)
}
