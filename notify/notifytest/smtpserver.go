// Package notifytest runs a real SMTP server inside a test, so code that sends e-mail through
// notify.SMTP can be tested end to end: TCP, STARTTLS with a certificate made for the test,
// SMTP AUTH, and the MIME message as it arrives.
//
//	srv := notifytest.NewSMTPServer(t)
//	sender, err := notify.NewSMTP(srv.Config())
//	...
//	mail := srv.Next(t) // waits for the next message; no sleeping
//	require.Equal(t, []string{"ana@example.com"}, mail.To)
package notifytest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/mail"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/fosite-contrib/grants/notify"
)

// Mail is one message the server accepted.
type Mail struct {
	// From is the envelope sender (MAIL FROM).
	From string
	// To are the envelope recipients (RCPT TO).
	To []string
	// Raw is the message exactly as received (RFC 5322, CRLF line ends).
	Raw []byte
	// Header is Raw's parsed header; MIME-encoded words are left as they are.
	Header mail.Header
	// AuthMechanism and AuthUser say how the client authenticated; both are empty without
	// AUTH.
	AuthMechanism string
	AuthUser      string
	// TLS reports whether the message travelled over TLS (STARTTLS or implicit).
	TLS bool
}

// SMTPServer is a real SMTP server on a loopback port, stopped when the test ends.
type SMTPServer struct {
	// Host and Port are where it listens; Addr is both joined.
	Host string
	Port int
	Addr string
	// Username and Password are the only credentials it accepts.
	Username string
	Password string
	// RootCAs trusts the server's self-signed certificate (valid for 127.0.0.1 and
	// localhost).
	RootCAs *x509.CertPool

	opts options

	mu      sync.Mutex
	mails   []Mail
	read    int           // how many mails Next has returned
	arrived chan struct{} // signalled, without blocking, after each accepted mail
}

type options struct {
	noSTARTTLS  bool
	implicitTLS bool
	mechs       []string
	rcptErr     *smtp.SMTPError
}

// Option changes how NewSMTPServer's server behaves.
type Option func(*options)

// WithoutSTARTTLS makes the server offer no STARTTLS, like a misconfigured or downgraded
// server, and allow AUTH in plain text.
func WithoutSTARTTLS() Option { return func(o *options) { o.noSTARTTLS = true } }

// WithImplicitTLS makes the server speak TLS from the first byte (RFC 8314 §3.3) instead of
// offering STARTTLS.
func WithImplicitTLS() Option { return func(o *options) { o.implicitTLS = true } }

// WithAuthMechanisms sets the SASL mechanisms offered, among "PLAIN" and "LOGIN"; the
// default is PLAIN only. With none, the server offers no AUTH and requires none.
func WithAuthMechanisms(mechs ...string) Option {
	return func(o *options) { o.mechs = append([]string{}, mechs...) }
}

// WithRcptError makes the server answer every RCPT TO with code and message, for example
// 550 to test a permanent rejection or 451 a temporary one.
func WithRcptError(code int, message string) Option {
	return func(o *options) {
		o.rcptErr = &smtp.SMTPError{
			Code:         code,
			EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0},
			Message:      message,
		}
	}
}

// NewSMTPServer starts an SMTP server on 127.0.0.1 that accepts mail after STARTTLS and AUTH
// PLAIN with its own Username and Password, and stops it when t ends.
func NewSMTPServer(t testing.TB, opts ...Option) *SMTPServer {
	t.Helper()
	s := &SMTPServer{
		Username: "notify-test",
		Password: rand.Text(),
		arrived:  make(chan struct{}, 1),
		opts:     options{mechs: []string{sasl.Plain}},
	}
	for _, o := range opts {
		o(&s.opts)
	}
	cert, pool := selfSignedCert(t)
	s.RootCAs = pool
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}

	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.MaxMessageBytes = 1 << 20
	srv.MaxRecipients = 10
	srv.ErrorLog = log.New(io.Discard, "", 0)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("notifytest: listen: %v", err)
	}
	switch {
	case s.opts.implicitTLS:
		l = tls.NewListener(l, tlsConfig)
	case s.opts.noSTARTTLS:
		srv.AllowInsecureAuth = true
	default:
		srv.TLSConfig = tlsConfig
	}
	addr := l.Addr().(*net.TCPAddr)
	s.Host, s.Port, s.Addr = "127.0.0.1", addr.Port, l.Addr().String()

	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		// Close only closes listeners Serve has registered; when the test ends before the
		// goroutine above got that far, closing l is what makes Serve return.
		_ = l.Close()
		<-done
	})
	return s
}

// Config returns a notify.SMTPConfig that reaches this server with its credentials, trusting
// its certificate, and sending from "Test Sender <sender@example.com>". It uses ImplicitTLS
// or NoTLS when the server was started that way.
func (s *SMTPServer) Config() notify.SMTPConfig {
	cfg := notify.SMTPConfig{
		Host:        s.Host,
		Port:        s.Port,
		From:        "Test Sender <sender@example.com>",
		TLSConfig:   &tls.Config{RootCAs: s.RootCAs, MinVersion: tls.VersionTLS12},
		ImplicitTLS: s.opts.implicitTLS,
		NoTLS:       s.opts.noSTARTTLS,
	}
	if len(s.opts.mechs) > 0 {
		cfg.Username, cfg.Password = s.Username, s.Password
	}
	return cfg
}

// Next returns the next message the server accepted that Next has not yet returned, waiting
// for it if needed. It fails t when t's context ends or nothing arrives within a minute.
func (s *SMTPServer) Next(t testing.TB) Mail {
	t.Helper()
	guard := time.NewTimer(time.Minute)
	defer guard.Stop()
	for {
		s.mu.Lock()
		if s.read < len(s.mails) {
			m := s.mails[s.read]
			s.read++
			s.mu.Unlock()
			return m
		}
		s.mu.Unlock()
		select {
		case <-s.arrived:
		case <-t.Context().Done():
			t.Fatalf("notifytest: test ended while waiting for a message")
		case <-guard.C:
			t.Fatalf("notifytest: no message arrived within a minute")
		}
	}
}

// Mails returns every message the server has accepted so far, oldest first.
func (s *SMTPServer) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

func (s *SMTPServer) deliver(m Mail) {
	s.mu.Lock()
	s.mails = append(s.mails, m)
	s.mu.Unlock()
	select {
	case s.arrived <- struct{}{}:
	default:
	}
}

func (s *SMTPServer) checkCredentials(user, pass string) error {
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(s.Username))
	passOK := subtle.ConstantTimeCompare([]byte(pass), []byte(s.Password))
	if userOK&passOK != 1 {
		return smtp.ErrAuthFailed
	}
	return nil
}

// session is one SMTP connection's state.
type session struct {
	srv  *SMTPServer
	conn *smtp.Conn

	authMech, authUser string
	from               string
	to                 []string
}

var _ smtp.AuthSession = (*session)(nil)

func (s *session) AuthMechanisms() []string { return s.srv.opts.mechs }

func (s *session) Auth(mech string) (sasl.Server, error) {
	if !slices.Contains(s.srv.opts.mechs, mech) {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	done := func(user, pass string) error {
		if err := s.srv.checkCredentials(user, pass); err != nil {
			return err
		}
		s.authMech, s.authUser = mech, user
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				return smtp.ErrAuthFailed
			}
			return done(user, pass)
		}), nil
	case sasl.Login:
		return &loginServer{done: done}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if len(s.srv.opts.mechs) > 0 && s.authUser == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.srv.opts.rcptErr != nil {
		return s.srv.opts.rcptErr
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "cannot parse message: " + err.Error()}
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.srv.deliver(Mail{
		From:          s.from,
		To:            append([]string(nil), s.to...),
		Raw:           raw,
		Header:        msg.Header,
		AuthMechanism: s.authMech,
		AuthUser:      s.authUser,
		TLS:           isTLS,
	})
	return nil
}

func (s *session) Reset() { s.from, s.to = "", nil }

func (s *session) Logout() error { return nil }

// loginServer is the server side of SASL LOGIN (draft-murchison-sasl-login-00), which
// go-sasl only has a client for.
type loginServer struct {
	step int
	user string
	done func(user, pass string) error
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step = 1
		if len(response) == 0 {
			return []byte("Username:"), false, nil
		}
		fallthrough // initial response carries the user name
	case 1:
		l.user = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.done(l.user, string(response))
	}
	return nil, false, errors.New("unexpected LOGIN step")
}

// selfSignedCert makes a short-lived ECDSA certificate for 127.0.0.1 and localhost, and a pool
// that trusts it.
func selfSignedCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("notifytest: key: %v", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatalf("notifytest: serial: %v", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "notifytest " + strconv.FormatInt(serial.Int64(), 36)},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("notifytest: certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("notifytest: certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
