package notify

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"
	mailsmtp "github.com/wneessen/go-mail/smtp"
)

// SMTPConfig configures an SMTP sender. The zero value of every optional field is the secure
// choice: STARTTLS required, certificates verified, a 30 second bound on each message.
type SMTPConfig struct {
	// Host is the SMTP server's name, also used to verify its certificate. Required.
	Host string
	// Port defaults to 587 (message submission with STARTTLS, RFC 6409), or to 465 when
	// ImplicitTLS is set (RFC 8314 §3.3).
	Port int
	// From is the sender address, such as "Example <no-reply@example.com>". Required.
	From string
	// Username and Password, when Username is set, authenticate with SMTP AUTH (RFC 4954),
	// using PLAIN or else LOGIN, whichever the server offers. Credentials are only ever sent
	// over TLS (or to a loopback server).
	Username string
	Password string
	// ImplicitTLS connects with TLS from the first byte ("submissions", RFC 8314 §3.3)
	// instead of upgrading with STARTTLS (RFC 3207).
	ImplicitTLS bool
	// NoTLS sends in plain text, without STARTTLS. It is meant for a development mail catcher
	// on this machine, so NewSMTP refuses it unless Host is a loopback address or "localhost".
	NoTLS bool
	// TLSConfig is cloned and used for STARTTLS and implicit TLS. Nil means the system roots;
	// ServerName defaults to Host and MinVersion to TLS 1.2.
	TLSConfig *tls.Config
	// Timeout bounds connecting and sending one message. Zero means 30 seconds.
	Timeout time.Duration
	// Now returns the time for the Date header. Nil means time.Now.
	Now func() time.Time
}

// SMTP is a Sender for the Email channel that submits each message to an SMTP server on its
// own connection. Create it with NewSMTP. It is safe for concurrent use.
//
// Each message is built as MIME (RFC 2045): UTF-8 text/plain, or multipart/alternative with a
// text/html part when Message.HTML is set; the subject is encoded as an RFC 2047 word when it
// is not ASCII; Date, Message-ID, Content-Language and "Auto-Submitted: auto-generated"
// (RFC 3834 §5) headers are set.
//
// Errors follow the Sender contract: SMTP 5xx replies are permanent, everything else
// (network, TLS, 4xx replies, timeouts) is temporary.
type SMTP struct {
	cfg    SMTPConfig
	addr   string
	from   *netmail.Address
	domain string
	tls    *tls.Config
}

var _ Sender = (*SMTP)(nil)

// NewSMTP checks cfg and returns an SMTP sender. It does not connect.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	if cfg.Host == "" {
		return nil, errors.New("notify: SMTPConfig.Host is empty")
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("notify: SMTPConfig.Port %d is out of range", cfg.Port)
	}
	if cfg.Port == 0 {
		cfg.Port = 587
		if cfg.ImplicitTLS {
			cfg.Port = 465
		}
	}
	if cfg.NoTLS && cfg.ImplicitTLS {
		return nil, errors.New("notify: SMTPConfig.NoTLS and ImplicitTLS are both set")
	}
	if cfg.NoTLS && !isLoopback(cfg.Host) {
		return nil, fmt.Errorf("notify: SMTPConfig.NoTLS is only allowed for a loopback host, not %q", cfg.Host)
	}
	if cfg.Username == "" && cfg.Password != "" {
		return nil, errors.New("notify: SMTPConfig.Password is set without Username")
	}
	if cfg.Timeout < 0 {
		return nil, errors.New("notify: SMTPConfig.Timeout is negative")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if strings.ContainsAny(cfg.From, "\r\n") {
		return nil, errors.New("notify: SMTPConfig.From contains a line break")
	}
	from, err := netmail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("notify: SMTPConfig.From is not an e-mail address: %w", err)
	}
	at := strings.LastIndexByte(from.Address, '@')
	if at <= 0 || at == len(from.Address)-1 {
		return nil, errors.New("notify: SMTPConfig.From is not an e-mail address: want local-part@domain")
	}

	tc := &tls.Config{}
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = cfg.Host
	}
	if tc.MinVersion == 0 {
		tc.MinVersion = tls.VersionTLS12
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	return &SMTP{cfg: cfg, addr: addr, from: from, domain: from.Address[at+1:], tls: tc}, nil
}

// Send implements Sender for messages whose Channel is Email.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if m.Channel != Email {
		return invalidf("the SMTP sender only sends channel %q, not %q", Email, m.Channel)
	}
	msg, err := s.build(m)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	client, err := mail.NewClient(s.cfg.Host, s.options(ctx)...)
	if err != nil {
		return fmt.Errorf("notify: smtp client: %w", err)
	}
	err = client.DialAndSendWithContext(ctx, msg)
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return Temporary(fmt.Errorf("notify: smtp %s: %w: %w", s.addr, ctxErr, err))
	}
	err = fmt.Errorf("notify: smtp %s: %w", s.addr, err)
	if code := smtpReplyCode(err); code >= 500 && code < 600 {
		return Permanent(err)
	}
	return Temporary(err)
}

func (s *SMTP) options(ctx context.Context) []mail.Option {
	opts := []mail.Option{
		mail.WithPort(s.cfg.Port),
		mail.WithTimeout(s.cfg.Timeout),
		mail.WithTLSConfig(s.tls),
		mail.WithDialContextFunc(s.dialer(ctx)),
	}
	switch {
	case s.cfg.ImplicitTLS:
		// Our dialer does the handshake; this tells go-mail not to try STARTTLS on top.
		opts = append(opts, mail.WithSSL())
	case s.cfg.NoTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		// RFC 3207 §4: refuse to go on when the server does not offer STARTTLS, rather than
		// sending a one-time code in the clear.
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if s.cfg.Username != "" {
		opts = append(opts, mail.WithSMTPAuthCustom(&plainOrLogin{
			user: s.cfg.Username, pass: s.cfg.Password, host: s.cfg.Host,
		}))
	}
	return opts
}

// dialer returns a dial function that bounds the whole SMTP exchange by ctx: go-mail only
// bounds the TCP connect and the DATA phase, so a server that stalls in its greeting or
// during STARTTLS would otherwise hold the sender forever.
func (s *SMTP) dialer(sendCtx context.Context) mail.DialContextFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if network != "unix" {
			// go-mail joins host and port with a bare colon, which breaks IPv6 literals.
			addr = s.addr
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if deadline, ok := sendCtx.Deadline(); ok {
			_ = conn.SetDeadline(deadline)
		}
		// Close the connection as soon as the caller gives up; the stop function is not
		// needed because sendCtx is always cancelled when Send returns.
		context.AfterFunc(sendCtx, func() { _ = conn.Close() })
		if !s.cfg.ImplicitTLS {
			return conn, nil
		}
		tc := tls.Client(conn, s.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			return nil, err
		}
		return tc, nil
	}
}

func (s *SMTP) build(m Message) (*mail.Msg, error) {
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	if err := msg.From(s.from.String()); err != nil {
		return nil, fmt.Errorf("notify: SMTP From: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, invalidf("To is not an e-mail address: %v", err)
	}
	msg.Subject(m.Subject)
	now := time.Now
	if s.cfg.Now != nil {
		now = s.cfg.Now
	}
	msg.SetDateWithValue(now())
	// RFC 5322 §3.6.4: a globally unique id; the right side is our own domain.
	msg.SetMessageIDWithValue(strings.ToLower(rand.Text()) + "@" + s.domain)
	msg.SetGenHeader(mail.Header("Auto-Submitted"), "auto-generated")
	if m.Locale != "" {
		msg.SetGenHeader(mail.HeaderContentLang, m.Locale)
	}
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// smtpReplyCode finds the SMTP reply code (RFC 5321 §4.2) in err, or 0 when err did not come
// from a server reply.
func smtpReplyCode(err error) int {
	var se *mail.SendError
	if errors.As(err, &se) {
		return se.ErrorCode()
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

// plainOrLogin is SMTP AUTH with PLAIN (RFC 4616) when the server offers it, else LOGIN
// (draft-murchison-sasl-login). go-mail's own mechanisms refuse to send credentials in the
// clear to anything but a loopback server.
type plainOrLogin struct {
	user, pass, host string
	mech             mailsmtp.Auth
}

func (a *plainOrLogin) Start(server *mailsmtp.ServerInfo) (string, []byte, error) {
	switch {
	case slices.Contains(server.Auth, "PLAIN"):
		a.mech = mailsmtp.PlainAuth("", a.user, a.pass, a.host, false)
	case slices.Contains(server.Auth, "LOGIN"):
		a.mech = mailsmtp.LoginAuth(a.user, a.pass, a.host, false)
	case len(server.Auth) == 0:
		return "", nil, errors.New("notify: SMTP server offers no AUTH mechanism on this connection")
	default:
		return "", nil, fmt.Errorf("notify: SMTP server offers AUTH %s, but only PLAIN and LOGIN are supported", strings.Join(server.Auth, " "))
	}
	return a.mech.Start(server)
}

func (a *plainOrLogin) Next(fromServer []byte, more bool) ([]byte, error) {
	return a.mech.Next(fromServer, more)
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
