package notify

import "errors"

var (
	// ErrPermanent marks a failure that will happen again if the same message is sent again
	// unchanged: an invalid destination, a channel nobody handles, an SMTP 5xx reply, an HTTP
	// 4xx answer from an SMS API. An outbox should give up on the message.
	ErrPermanent = errors.New("notify: permanent failure")

	// ErrTemporary marks a failure that may go away by itself: the network, a timeout, an SMTP
	// 4xx reply, an HTTP 5xx, 408 or 429 answer. An outbox should retry later, with backoff.
	ErrTemporary = errors.New("notify: temporary failure")

	// ErrInvalidMessage is wrapped by the errors of Message.Validate. It is always permanent.
	ErrInvalidMessage = errors.New("notify: invalid message")

	// ErrUnknownChannel is wrapped by the error a Mux returns for a channel it has no Sender
	// for. It is always permanent.
	ErrUnknownChannel = errors.New("notify: no sender for channel")
)

// classified gives err a class (ErrPermanent or ErrTemporary) for errors.Is without changing
// its text.
type classified struct {
	err   error
	class error
}

func (e *classified) Error() string   { return e.err.Error() }
func (e *classified) Unwrap() []error { return []error{e.err, e.class} }

// Permanent returns err marked as permanent: errors.Is(Permanent(err), ErrPermanent) is true
// and the text is unchanged. Senders written outside this package use it to follow the error
// contract of Sender. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil || errors.Is(err, ErrPermanent) {
		return err
	}
	return &classified{err: err, class: ErrPermanent}
}

// Temporary returns err marked as temporary: errors.Is(Temporary(err), ErrTemporary) is true
// and the text is unchanged. Temporary(nil) is nil.
func Temporary(err error) error {
	if err == nil || errors.Is(err, ErrTemporary) {
		return err
	}
	return &classified{err: err, class: ErrTemporary}
}

// Retryable reports whether sending the same message again may succeed: err is not nil and
// not marked permanent. Errors that carry no class at all count as retryable, so a Sender
// that does not know the contract errs on the side of trying again.
func Retryable(err error) bool {
	return err != nil && !errors.Is(err, ErrPermanent)
}
