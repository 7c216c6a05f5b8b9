package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/fosite-contrib/grants/outbound"
)

// HTTPSMSConfig configures an HTTPSMS sender.
type HTTPSMSConfig struct {
	// URL is the SMS API endpoint that accepts a POST per message. It must be https (see
	// outbound.CheckURL), except for a loopback host when AllowLoopback is set. Required.
	URL string
	// AllowLoopback permits a loopback URL, over http or https: a local test double, or
	// development. Without it the default client connects only to public addresses (see package
	// outbound). It is ignored when Client is set.
	AllowLoopback bool
	// Token, when set, is sent as "Authorization: Bearer <Token>" (RFC 6750 §2.1).
	Token string
	// Username and Password, when Username is set, are sent as HTTP Basic credentials
	// (RFC 7617). Set Token or Username, not both.
	Username string
	Password string
	// Timeout bounds one request, including reading the answer. Zero means 10 seconds.
	Timeout time.Duration
	// Client sends the requests. Nil means outbound.NewClient: public addresses only (loopback
	// too with AllowLoopback), no proxy from the environment, answers capped. A given client is
	// the operator's choice (an SMS gateway on a private network, say) and is used as it is, with
	// the URL only required to be https or loopback http; it is copied, and the copy never follows
	// redirects and gets Timeout when it has none.
	Client *http.Client
	// NewRequest, when set, builds the request instead of the default JSON
	// {"to": m.To, "text": m.Text} POST to url, for APIs with another shape (form fields,
	// extra parameters such as a sender id). The credentials above are added afterwards
	// unless the request already has an Authorization header.
	NewRequest func(ctx context.Context, url string, m Message) (*http.Request, error)
}

// HTTPSMS is a Sender for the SMS channel that posts each message to an HTTP SMS API. Create
// it with NewHTTPSMS. It is safe for concurrent use.
//
// Answers are read through an io.LimitReader and classified for the Sender error contract:
// 2xx is sent; 408 and 429 are temporary; other 4xx and any 3xx (redirects are never
// followed) are permanent; 5xx and network failures are temporary. Such errors wrap an
// *HTTPError with the status and the start of the answer.
type HTTPSMS struct {
	cfg    HTTPSMSConfig
	client *http.Client
}

var _ Sender = (*HTTPSMS)(nil)

// maxAnswer is how much of an SMS API's answer is kept.
const maxAnswer = 4 << 10

// HTTPError is an SMS API's answer that was not 2xx.
type HTTPError struct {
	// StatusCode is the HTTP status code.
	StatusCode int
	// Body is the start of the answer body, at most 4 KiB. It is not part of Error(),
	// since an API may echo the message text back.
	Body []byte
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("notify: SMS API answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
}

// NewHTTPSMS checks cfg and returns an HTTPSMS sender.
func NewHTTPSMS(cfg HTTPSMSConfig) (*HTTPSMS, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("notify: HTTPSMSConfig.URL: %w", err)
	}
	if cfg.Client == nil {
		if err := outbound.CheckURL(cfg.URL, cfg.AllowLoopback); err != nil {
			return nil, fmt.Errorf("notify: HTTPSMSConfig.URL: %w", err)
		}
	}
	switch {
	case u.Host == "":
		return nil, errors.New("notify: HTTPSMSConfig.URL must be an absolute URL")
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return nil, fmt.Errorf("notify: HTTPSMSConfig.URL must use https (http only for a loopback host), not %q", u.Scheme)
	}
	if cfg.Token != "" && cfg.Username != "" {
		return nil, errors.New("notify: HTTPSMSConfig has both Token and Username: choose one")
	}
	if cfg.Username == "" && cfg.Password != "" {
		return nil, errors.New("notify: HTTPSMSConfig.Password is set without Username")
	}
	if cfg.Timeout < 0 {
		return nil, errors.New("notify: HTTPSMSConfig.Timeout is negative")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	var client *http.Client
	if cfg.Client != nil {
		c := *cfg.Client
		client = &c
		if client.Timeout == 0 {
			client.Timeout = cfg.Timeout
		}
	} else {
		client = outbound.NewClient(outbound.Config{AllowLoopback: cfg.AllowLoopback, Timeout: cfg.Timeout})
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error {
		// A redirect is answered to the caller as a 3xx; following it could post the
		// message and the credentials to a host nobody configured.
		return http.ErrUseLastResponse
	}
	return &HTTPSMS{cfg: cfg, client: client}, nil
}

// Send implements Sender for messages whose Channel is SMS.
func (h *HTTPSMS) Send(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if m.Channel != SMS {
		return invalidf("the HTTP SMS sender only sends channel %q, not %q", SMS, m.Channel)
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()

	newRequest := h.cfg.NewRequest
	if newRequest == nil {
		newRequest = jsonSMSRequest
	}
	req, err := newRequest(ctx, h.cfg.URL, m)
	if err != nil {
		return Permanent(fmt.Errorf("notify: building the SMS API request: %w", err))
	}
	if req.Header.Get("Authorization") == "" {
		switch {
		case h.cfg.Token != "":
			req.Header.Set("Authorization", "Bearer "+h.cfg.Token)
		case h.cfg.Username != "":
			req.SetBasicAuth(h.cfg.Username, h.cfg.Password)
		}
	}

	resp, err := h.client.Do(req)
	if err != nil {
		// *url.Error names the URL; it never holds the body or the credentials.
		return Temporary(fmt.Errorf("notify: SMS API: %w", err))
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	httpErr := &HTTPError{StatusCode: resp.StatusCode, Body: body}
	if err != nil {
		return Temporary(fmt.Errorf("%w (reading the answer: %w)", httpErr, err))
	}
	switch {
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests:
		return Temporary(httpErr)
	case resp.StatusCode >= 300 && resp.StatusCode < 500:
		return Permanent(httpErr)
	default:
		return Temporary(httpErr)
	}
}

// jsonSMSRequest is the default request: a JSON POST of {"to", "text"}.
func jsonSMSRequest(ctx context.Context, url string, m Message) (*http.Request, error) {
	body, err := json.Marshal(struct {
		To   string `json:"to"`
		Text string `json:"text"`
	}{m.To, m.Text})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	return req, nil
}
