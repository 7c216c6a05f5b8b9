package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fosite-contrib/grants/notify"
)

// NotifyScheme is the Target scheme of messages that carry a notify.Message ("notify:email").
const NotifyScheme = "notify"

// Notify delivers messages made by NotifyMessage with a notify.Sender: the alert e-mails and text
// messages of the grants, sent through the outbox so that they survive a crash.
//
// The Sender's error contract carries over unchanged: notify.ErrPermanent failures are not retried.
type Notify struct {
	Sender notify.Sender
}

var _ Deliverer = Notify{}

// Deliver implements Deliverer.
func (n Notify) Deliver(ctx context.Context, m Message) (Result, error) {
	if n.Sender == nil {
		return Result{}, Permanent(errors.New("outbox: Notify has no Sender"))
	}
	var nm notify.Message
	if err := json.Unmarshal(m.Body, &nm); err != nil {
		return Result{}, Permanent(errors.New("outbox: message body is not a notify.Message"))
	}
	if err := nm.Validate(); err != nil {
		return Result{}, err
	}
	return Result{}, n.Sender.Send(ctx, nm)
}

// NotifyMessage returns the outbox message that makes Notify send nm. Target is
// "notify:<channel>"; the recipient, subject and bodies travel in the sealed Body, so no address or
// one-time code is stored in the clear. nm must pass notify.Message.Validate.
func NotifyMessage(id, kind string, nm notify.Message) (Message, error) {
	if err := nm.Validate(); err != nil {
		return Message{}, err
	}
	body, err := json.Marshal(nm)
	if err != nil {
		return Message{}, fmt.Errorf("outbox: encode notify message: %w", err)
	}
	return Message{ID: id, Kind: kind, Target: NotifyScheme + ":" + string(nm.Channel), Body: body}, nil
}
