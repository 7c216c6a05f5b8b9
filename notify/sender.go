package notify

import (
	"context"
	"fmt"
)

// Sender delivers a message.
//
// Send must be safe for concurrent use by multiple goroutines. It returns nil once the message
// has been handed to the next hop (an SMTP server accepted it, an SMS API answered 2xx); it
// cannot promise the message reached the person.
//
// A non-nil error tells the caller whether to try again:
//   - errors.Is(err, ErrPermanent): sending the same message again will fail the same way (an
//     invalid destination, a rejection by the provider). Give up and record why.
//   - anything else, usually marked errors.Is(err, ErrTemporary): the network, a timeout or
//     an overloaded provider. Retry later with backoff; Retryable(err) reports exactly this.
//
// Send honours ctx: when ctx is done, it stops and returns an error that is not permanent.
// Errors never contain Message.Text or Message.HTML, nor any credential.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// SenderFunc adapts a function to the Sender interface.
type SenderFunc func(ctx context.Context, m Message) error

// Send calls f(ctx, m).
func (f SenderFunc) Send(ctx context.Context, m Message) error { return f(ctx, m) }

// Mux is a Sender that hands each message to the Sender registered for its Channel, for
// example
//
//	notify.Mux{notify.Email: smtpSender, notify.SMS: smsSender}
//
// A message for a channel without a Sender fails with an error wrapping ErrUnknownChannel and
// ErrPermanent. A Mux is safe for concurrent use as long as nobody changes the map while it
// sends.
type Mux map[Channel]Sender

// Send implements Sender.
func (mx Mux) Send(ctx context.Context, m Message) error {
	s := mx[m.Channel]
	if s == nil {
		return Permanent(fmt.Errorf("%w %q", ErrUnknownChannel, m.Channel))
	}
	return s.Send(ctx, m)
}

var (
	_ Sender = SenderFunc(nil)
	_ Sender = Mux(nil)
)
