package otp

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/fosite-contrib/grants/notify"
)

// ChannelType is how a code travels to the person: a text message, an e-mail or a voice call. The values
// are notify's channel names, so a Destination converts straight into a notify.Message.
type ChannelType = notify.Channel

// The channel types a challenge may offer.
const (
	SMS   ChannelType = notify.SMS
	Email ChannelType = notify.Email
	Voice ChannelType = notify.Voice
)

// ErrUnknownAccount is what a Directory returns when a login hint names nobody. The challenge endpoint
// then answers with a decoy challenge that looks like a real one (see the package guide), so the client
// learns nothing.
var ErrUnknownAccount = errors.New("otp: no account matches the login hint")

// Directory resolves the non-secret identifier a person gives at the client (a service address, an
// account number, a phone number, an e-mail address) to the account it names and the places a code can
// be sent. The application implements it over its customer database.
type Directory interface {
	// LookupAccount returns the account loginHint identifies, or ErrUnknownAccount. Any other error is a
	// server error. loginHint is as the client sent it, trimmed of surrounding white space; the Directory
	// decides what counts as the same identifier (case, spacing, punctuation).
	LookupAccount(ctx context.Context, loginHint string) (*Account, error)
}

// DirectoryFunc adapts a function to Directory.
type DirectoryFunc func(ctx context.Context, loginHint string) (*Account, error)

// LookupAccount calls f.
func (f DirectoryFunc) LookupAccount(ctx context.Context, loginHint string) (*Account, error) {
	return f(ctx, loginHint)
}

// Account is what a Directory knows of a person.
type Account struct {
	// Subject is the user tokens are issued for (the ID token's sub).
	Subject string
	// Destinations are where a code can be sent, in the order the client should offer them. Types other
	// than SMS, Email and Voice are ignored.
	Destinations []Destination
	// Locale is the person's preferred language (BCP 47), used when the client sends no ui_locales.
	Locale string
}

// Destination is one place a code can be sent.
type Destination struct {
	Type ChannelType
	// Address is an E.164 phone number for SMS and Voice, an RFC 5322 address for Email. It never leaves
	// the server: clients only see it masked.
	Address string
}

// Channel is a delivery option as the client sees it (the "channels" member of the challenge response).
type Channel struct {
	// ID names the option in the send step ("sms-1", "email-1"): the type and its rank among options of
	// that type. It carries nothing about the address.
	ID string `json:"id"`
	// Type is sms, email or voice.
	Type ChannelType `json:"type"`
	// Destination is the masked address, e.g. "***-***-1234" or "h***@e***.com".
	Destination string `json:"destination"`
}

// channelsOf lists an account's destinations as channels, with IDs and masked addresses. Destinations of
// unknown types are dropped; the returned addresses are aligned with the channels.
func channelsOf(ctx context.Context, mask MaskPolicy, dests []Destination) ([]Channel, []string) {
	var (
		out   []Channel
		addrs []string
		seen  = map[ChannelType]int{}
	)
	for _, d := range dests {
		switch d.Type {
		case SMS, Email, Voice:
		default:
			continue
		}
		seen[d.Type]++
		out = append(out, Channel{ID: channelID(d.Type, seen[d.Type]), Type: d.Type, Destination: mask.Mask(ctx, d.Type, d.Address)})
		addrs = append(addrs, d.Address)
	}
	return out, addrs
}

func channelID(t ChannelType, rank int) string {
	return string(t) + "-" + strconv.Itoa(rank)
}

// pickChannel finds the channel a client named: an ID ("sms-2") or a bare type ("sms": the first of
// that type). It returns -1 when none matches.
func pickChannel(chs []Channel, name string) int {
	name = strings.ToLower(strings.TrimSpace(name))
	for i, c := range chs {
		if c.ID == name {
			return i
		}
	}
	for i, c := range chs {
		if string(c.Type) == name {
			return i
		}
	}
	return -1
}
