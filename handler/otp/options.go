package otp

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/notify"
)

// DefaultGrantType is the grant type of the OTP token request: an absolute URI in this project's
// namespace, as RFC 6749 §4.5 asks of extension grants. It is not a urn:ietf name, because the IETF has
// registered no such grant. Deployments may publish another (Options.GrantType).
const DefaultGrantType fosite.GrantType = "https://github.com/fosite-contrib/grants/grant-type/otp"

// ChallengeEndpointMetadata is the discovery member (RFC 8414 §2 extension) under which the challenge
// endpoint's URL is published.
const ChallengeEndpointMetadata = "otp_challenge_endpoint"

// Quotas bound how many codes are sent, so that the endpoint cannot be used to pump text messages (toll
// fraud) or to bomb one person's phone. Each limit counts sends in a fixed window, in the store, so the
// limits hold across server instances. A zero limit disables that limit.
type Quotas struct {
	// PerIdentifier bounds sends per identifier (login hint, normalised), whether it names an account or
	// not. A send over it is refused with 429.
	PerIdentifier int
	// PerPerson bounds sends per account, whichever of its identifiers asked. A send over it is answered
	// exactly like any other send, and nothing is sent (see the package guide: a refusal would tell which
	// identifiers belong to one person). Keep it above PerIdentifier, so that a person using one
	// identifier meets the visible limit first.
	PerPerson int
	// PerClient bounds sends per client.
	PerClient int
	// PerAddress bounds sends per client network address (the kiosk's, as the server sees it).
	PerAddress int
	// ChallengesPerAddress bounds new challenges per client network address, so that a client cannot
	// fill the store or probe identifiers at speed.
	ChallengesPerAddress int
	// Window is the window of every limit.
	Window time.Duration
}

// DefaultQuotas are the quotas used when none are configured.
var DefaultQuotas = Quotas{PerIdentifier: 5, PerPerson: 10, PerClient: 1000, PerAddress: 30, ChallengesPerAddress: 60, Window: time.Hour}

// Options configure the OTP grant. The zero value of each field means its default; New fills them in
// (Grant.Options returns the result).
type Options struct {
	// ChallengeURL is the full URL of the challenge endpoint, published in discovery as
	// otp_challenge_endpoint. A private_key_jwt client assertion sent there may name it as its
	// audience.
	ChallengeURL string
	// GrantType is the grant type URI of the token request. Default DefaultGrantType.
	GrantType fosite.GrantType
	// CodeLength is the number of digits of a code, 6 to 8. Default 6.
	CodeLength int
	// Lifespan is how long a challenge and its code live. Default 5 minutes.
	Lifespan time.Duration
	// MaxAttempts is how many codes may be tried on one challenge. Default 5.
	MaxAttempts int
	// ResendInterval is the minimum time between two sends on one challenge, in whole seconds. Default
	// 30 seconds.
	ResendInterval time.Duration
	// Quotas bound sends; each zero field takes its value from DefaultQuotas, and -1 disables that
	// limit.
	Quotas Quotas

	// Directory resolves login hints to accounts. Required.
	Directory Directory
	// Sender delivers codes. Required.
	Sender notify.Sender
	// Mask masks destinations; nil means DefaultMask.
	Mask MaskPolicy
	// Templates renders messages; nil means NewDefaultTemplates().
	Templates *notify.Templates
	// Scopes describes scopes in messages; nil shows scope names.
	Scopes ScopeDescriber
	// ClientName names the client in messages; nil uses the client's name or ID.
	ClientName ClientNamer
	// DecoyChannels are the channel types decoy challenges offer; nil means SMS and e-mail. Make them
	// what most of your accounts have.
	DecoyChannels []ChannelType
	// NewSession makes the session of issued tokens; nil means DefaultSession(the ID token issuer).
	NewSession SessionFactory
	// SendTimeout bounds one delivery by the Sender. Codes are delivered after the challenge endpoint
	// has answered (see the package guide); default 30 seconds.
	SendTimeout time.Duration
	// Policy is the cross-device security policy of the grant (RFC 10027; see pending.Policy): trusted
	// networks and clients, scope and token ceilings, flags. Its rate limits are off by default here:
	// the grant's own Quotas bound challenges and sends.
	Policy pending.Policy
	// Audit records sends, redemptions, lockouts, policy refusals and flags; nil records nothing.
	Audit audit.Sink

	// Rand is the source of randomness for user codes; nil means crypto/rand.
	Rand io.Reader
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives refusals, replays, lockouts and delivery failures (never codes); nil discards.
	Logger *slog.Logger
}

// withDefaults returns o with every default filled in, or an error naming what is wrong.
func (o Options) withDefaults(issuer string) (Options, error) {
	if o.Directory == nil {
		return o, errorf("Options.Directory is required")
	}
	if o.Sender == nil {
		return o, errorf("Options.Sender is required")
	}
	if o.GrantType == "" {
		o.GrantType = DefaultGrantType
	}
	if o.CodeLength == 0 {
		o.CodeLength = 6
	}
	if o.CodeLength < 6 || o.CodeLength > 8 {
		return o, errorf("the code length must be 6 to 8 digits, got %d", o.CodeLength)
	}
	if o.Lifespan <= 0 {
		o.Lifespan = 5 * time.Minute
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.ResendInterval <= 0 {
		o.ResendInterval = 30 * time.Second
	}
	o.ResendInterval = o.ResendInterval.Round(time.Second)
	q, d := o.Quotas, DefaultQuotas
	pick := func(v, def int) int {
		switch {
		case v == 0:
			return def
		case v < 0:
			return 0
		}
		return v
	}
	q.PerIdentifier = pick(q.PerIdentifier, d.PerIdentifier)
	q.PerPerson = pick(q.PerPerson, d.PerPerson)
	q.PerClient = pick(q.PerClient, d.PerClient)
	q.PerAddress = pick(q.PerAddress, d.PerAddress)
	q.ChallengesPerAddress = pick(q.ChallengesPerAddress, d.ChallengesPerAddress)
	if q.Window <= 0 {
		q.Window = d.Window
	}
	o.Quotas = q
	if o.SendTimeout <= 0 {
		o.SendTimeout = 30 * time.Second
	}
	if o.Mask == nil {
		o.Mask = DefaultMask{}
	}
	if o.Templates == nil {
		o.Templates = NewDefaultTemplates()
	}
	if o.ClientName == nil {
		o.ClientName = defaultClientName
	}
	if len(o.DecoyChannels) == 0 {
		o.DecoyChannels = []ChannelType{SMS, Email}
	}
	if o.NewSession == nil {
		o.NewSession = DefaultSession(issuer)
	}
	return o, nil
}

func errorf(format string, args ...any) error {
	return fmt.Errorf("otp: "+format, args...)
}
