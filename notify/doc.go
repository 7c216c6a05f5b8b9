// Package notify sends the messages the grants need: the one-time codes of the OTP grant, the
// sign-in links CIBA uses when an e-mail or a text message is the authentication device, and
// the alerts the device grant sends after an approval.
//
// Everything goes through one interface, Sender, with one method:
//
//	Send(ctx context.Context, m notify.Message) error
//
// A Message is addressed to one person on one Channel (Email, SMS or Voice) and carries a
// plain-text body, plus an optional subject, HTML body, locale and Meta tags. The package
// ships a Sender per way of delivering and two that combine or replace them:
//
//   - SMTP submits e-mail to a mail server (STARTTLS or implicit TLS, AUTH PLAIN or LOGIN).
//   - HTTPSMS posts text messages to an SMS provider's HTTP API.
//   - Mux routes each message to the Sender for its channel.
//   - Outbox keeps messages in memory and shows them on a web page, for development.
//
// # Sending mail in production
//
// Use the submission service of your mail provider or relay, on port 587 with STARTTLS (the
// default) or port 465 with ImplicitTLS:
//
//	mailer, err := notify.NewSMTP(notify.SMTPConfig{
//		Host:     "smtp.example.com",
//		From:     "Example Sign-in <no-reply@example.com>",
//		Username: "no-reply@example.com",
//		Password: os.Getenv("SMTP_PASSWORD"),
//	})
//	sms, err := notify.NewHTTPSMS(notify.HTTPSMSConfig{
//		URL:   "https://sms.example.net/v1/messages",
//		Token: os.Getenv("SMS_API_TOKEN"),
//	})
//	var sender notify.Sender = notify.Mux{notify.Email: mailer, notify.SMS: sms}
//
// The defaults are the safe ones. STARTTLS is required: a server that does not offer it (or a
// network that strips the offer) gets no message, rather than a one-time code in the clear.
// Certificates are verified against the system roots (set SMTPConfig.TLSConfig for a private
// CA). Credentials only travel over TLS. SMTPConfig.NoTLS exists for mail catchers such as
// Mailpit on this machine and is refused for any other host. Every message uses its own
// connection, bounded by SMTPConfig.Timeout and by the context, so a stalled server cannot
// hold a request.
//
// HTTPSMS sends {"to": "+14155550100", "text": "..."} as JSON with a bearer token or Basic
// credentials. Providers with another request shape are served by HTTPSMSConfig.NewRequest.
// It never follows redirects and reads at most 4 KiB of any answer. By default it sends through
// the client of package outbound, so it connects to public addresses only (loopback too with
// HTTPSMSConfig.AllowLoopback, for a local double); give it HTTPSMSConfig.Client to reach a
// gateway on your own network.
//
// # The error contract
//
// Sending fails for two kinds of reasons, and a caller (typically an outbox table that a
// worker drains) must tell them apart:
//
//   - errors.Is(err, ErrPermanent): the same message will fail again: an invalid address
//     (ErrInvalidMessage), a channel nobody handles (ErrUnknownChannel), an SMTP 5xx reply,
//     an SMS API 4xx answer other than 408 and 429, a redirect. Record it and stop.
//   - anything else, normally errors.Is(err, ErrTemporary): network, TLS, timeouts,
//     cancellation, SMTP 4xx, HTTP 5xx, 408 and 429. Retry with backoff.
//
// Retryable(err) answers exactly "may I try again?". Senders written outside this package
// classify their errors with Permanent and Temporary; an error with no class is retryable.
// Errors name the server but never contain a message body or a credential, so they can be
// logged: bodies hold one-time codes and sign-in links.
//
// # The development outbox
//
// In development nothing should leave the machine, yet a developer must read the code that
// was "sent". An Outbox is a Sender that keeps the last N messages and is also an
// http.Handler:
//
//	outbox := notify.NewOutbox(100)
//	mux.Handle("/dev/outbox", outbox) // dev mode only
//
// The page lists messages newest first, with every value escaped, links in the text
// clickable, and an HTML body shown in a sandboxed frame that runs no scripts.
// /dev/outbox?format=json (or an Accept: application/json request) returns the same list as
// JSON, which tests and scripts can read. Outbox.Messages gives tests the messages directly.
// Never mount the page in production: it shows live one-time codes.
//
// # Localised templates
//
// Templates renders a message's subject, text and HTML from files named
// <locale>/<name>.txt and <locale>/<name>.html in one or more fs.FS layers, falling back from
// "de-CH" to "de" to a default locale. A grant embeds its defaults; an application puts its
// own files in a layer in front to change any of them.
//
// # Testing
//
// Package notifytest runs a real SMTP server inside a test, with STARTTLS on a certificate
// made for the test and AUTH, and hands each received message to the test without sleeping.
package notify
