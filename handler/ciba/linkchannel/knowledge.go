package linkchannel

import (
	"context"
	"errors"
	"net/url"
)

// Field is one input the link page asks for, such as a date of birth.
type Field struct {
	// Name is the form field name. It must not be "token" or "action", which the page uses.
	Name string
	// Label is what the person reads next to the input.
	Label string
	// Type is the HTML input type: "text" (the default), "date", "password", "number", "tel".
	Type string
	// Autocomplete is the HTML autocomplete hint, such as "bday"; empty means "off".
	Autocomplete string
	// Prompt is how a text message asks for the field within a sentence ("the last 4 digits of your
	// account number"), for channels without a form (package smschannel); empty means Label.
	Prompt string
}

// ErrWrongAnswer is what KnowledgeCheck.Verify returns (or wraps) for a wrong answer. It counts
// against the attempt limit; any other error is a failure of the check itself and does not.
var ErrWrongAnswer = errors.New("linkchannel: wrong answer")

// KnowledgeCheck lets a server ask for extra knowledge factors on the link page before the person
// can approve, without changing the CIBA flow: the client still waits for the same answer. The seed
// use case is a date of birth or the last digits of an account number, for approvals that need more
// than possession of the mailbox or the phone.
//
// Both methods must be safe for concurrent use. Compare secrets in constant time, and do not tell
// which field was wrong.
type KnowledgeCheck interface {
	// Fields returns the inputs to show for subject; none means no check for them.
	Fields(ctx context.Context, subject string) []Field
	// Verify checks the submitted form for subject: nil when the answers are right, ErrWrongAnswer
	// (or an error wrapping it) when they are not.
	Verify(ctx context.Context, subject string, form url.Values) error
}
