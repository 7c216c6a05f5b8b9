package outbox

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"github.com/fosite-contrib/grants/internal/clock"
	"github.com/fosite-contrib/grants/outbound"
)

// WebhookConfig configures NewWebhook. The zero value is the production setting: https only, public
// addresses only, 10-second timeout, system roots.
type WebhookConfig struct {
	// AllowLoopback permits targets on loopback addresses, over http or https (development only,
	// for a client running on the same machine). Private and link-local addresses stay refused.
	AllowLoopback bool
	// Timeout bounds one attempt: connecting, TLS, sending and reading the answer. Default 10s.
	Timeout time.Duration
	// TLSConfig sets the TLS client configuration (for a private CA); nil means the system roots.
	TLSConfig *tls.Config
	// LookupAddrs resolves a host name; nil means net.DefaultResolver. Tests use it to map names to
	// addresses without a DNS server. Every address it returns is checked before any is dialled.
	LookupAddrs func(ctx context.Context, host string) ([]netip.Addr, error)
	// UserAgent is sent as User-Agent; default "fosite-contrib-grants-outbox".
	UserAgent string
	// MaxResponseBytes is how much of an answer is read (and ignored) before closing; default 64 KiB.
	MaxResponseBytes int64
	// Now is the clock used to read an HTTP-date Retry-After; nil means time.Now.
	Now func() time.Time
}

// Webhook delivers a message by POSTing Body, with Header, to Target: the CIBA ping and push
// callbacks (OpenID CIBA Core §10.2, §10.3). Create it with NewWebhook; it is safe for concurrent use.
//
// It defends the server against being used to reach what the client should not reach (SSRF), with
// the client of package outbound:
//   - the Target must pass ValidateTarget: https (http only to loopback, when allowed), no user info;
//   - every address the host resolves to is checked with CheckAddr when dialling, after resolution,
//     so a name that resolves (or rebinds) to a private, link-local, multicast, unspecified or
//     loopback address is refused before any packet is sent to it; if any address of a name is
//     forbidden, none is dialled;
//   - no proxy from the environment is used (it would hide the real destination);
//   - redirects are never followed: a 3xx answer is a permanent failure.
//
// Answers: any 2xx (the spec's 204, and 200 with a body, which is ignored) is success; 408, 429 and
// 5xx are retried; 3xx and any other 4xx (401 and 403 included: the CIBA conformance suite requires
// no retry after a 401) fail for good. Network errors are retried. At most MaxResponseBytes of the
// answer are read, then discarded (a larger answer does not change the outcome).
//
// A message of Kind KindSecurityEvent is a SET push (RFC 8935 Section 2): only 202 Accepted is
// success (§2.2; another 2xx fails for good, since a receiver that answers it is not one); a 400 is
// the receiver's refusal (§2.3) and fails for good, its "err" code and description in the error; the
// rest is judged as above.
type Webhook struct {
	cfg    WebhookConfig
	client *http.Client
}

var _ Deliverer = (*Webhook)(nil)

// NewWebhook returns a Webhook with cfg. Its requests go through an outbound.NewClient client, which
// enforces the address policy, the timeout and the answer cap.
func NewWebhook(cfg WebhookConfig) *Webhook {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "fosite-contrib-grants-outbox"
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = 64 << 10
	}
	return &Webhook{cfg: cfg, client: outbound.NewClient(outbound.Config{
		AllowLoopback:    cfg.AllowLoopback,
		Timeout:          cfg.Timeout,
		MaxResponseBytes: cfg.MaxResponseBytes,
		TLSConfig:        cfg.TLSConfig,
		LookupAddrs:      cfg.LookupAddrs,
	})}
}

// Deliver implements Deliverer: one POST of m.Body with m.Header to m.Target. Content-Type defaults to
// application/json. Errors name the host and the cause, never a header or the body.
func (w *Webhook) Deliver(ctx context.Context, m Message) (Result, error) {
	if err := ValidateTarget(m.Target, w.cfg.AllowLoopback); err != nil {
		return Result{}, err
	}
	u, _ := url.Parse(m.Target) // valid: checked above
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.Target, bytes.NewReader(m.Body))
	if err != nil {
		return Result{}, Permanent(fmt.Errorf("webhook %s: cannot build request", u.Host))
	}
	for k, v := range m.Header {
		req.Header.Set(k, v)
	}
	set := m.Kind == KindSecurityEvent
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
		if set {
			req.Header.Set("Content-Type", SETContentType)
		}
	}
	req.Header.Set("User-Agent", w.cfg.UserAgent)

	resp, err := w.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the whole URL
		}
		err = fmt.Errorf("webhook %s: %w", u.Host, err)
		if errors.Is(err, ErrForbiddenTarget) {
			return Result{}, Permanent(err)
		}
		return Result{}, err
	}
	// The answer is ignored (but for a SET receiver's refusal); reading it (up to the cap, where the
	// client stops with an error) lets the connection be reused.
	refusal := ""
	if set && resp.StatusCode == http.StatusBadRequest {
		refusal = setRefusal(resp.Body)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()

	res := Result{StatusCode: resp.StatusCode}
	code := resp.StatusCode
	switch {
	case set && code == http.StatusAccepted:
		return res, nil
	case set && code >= 200 && code < 300:
		return res, Permanent(fmt.Errorf("webhook %s: HTTP %d: a SET receiver acknowledges with 202 Accepted (RFC 8935 section 2.2)", u.Host, code))
	case code >= 200 && code < 300:
		return res, nil
	case code >= 300 && code < 400:
		return res, Permanent(fmt.Errorf("webhook %s: HTTP %d: redirects are not followed", u.Host, code))
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500:
		res.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), clock.Now(w.cfg.Now))
		return res, fmt.Errorf("webhook %s: HTTP %d", u.Host, code)
	default:
		return res, Permanent(fmt.Errorf("webhook %s: HTTP %d%s", u.Host, code, refusal))
	}
}

// maxRetryAfter caps what a target can ask for.
const maxRetryAfter = time.Hour

// retryAfter reads an HTTP Retry-After value (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// WebhookMessage returns the message of a JSON webhook authenticated with a Bearer token (RFC 6750
// §2.1), as CIBA ping and push callbacks are (OpenID CIBA Core §10.2, §10.3): the token is sent as
// "Authorization: Bearer <token>". The token and body are sealed at rest. An empty token sends no
// Authorization header.
func WebhookMessage(id, kind, target, bearerToken string, body []byte) Message {
	h := map[string]string{"Content-Type": "application/json"}
	if bearerToken != "" {
		h["Authorization"] = "Bearer " + bearerToken
	}
	return Message{ID: id, Kind: kind, Target: target, Header: h, Body: body}
}
