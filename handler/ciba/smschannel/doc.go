// Package smschannel is a CIBA authentication device (ciba.AuthenticationDevice) for people with a
// phone and nothing else: the request reaches them as a text message, and they answer by replying to it
// (the seed's "click on a link in the email (or reply the text)"). OpenID CIBA Core 1.0 §8 leaves the
// device and its UI to the OP.
//
// # What the person gets, and answers
//
// One text message names the client, shows the binding message, says what the client could do, and
// gives a short code:
//
//	Corner Shop asks to sign you in ("W4SCT"); it could confirm who you are, see your name.
//	Reply YES 4821 to allow, or NO 4821 to deny. Expires in 10 min. Not you? Reply NO 4821.
//
// The person replies "YES 4821" or "NO 4821" (any letter case; Y, OK, JA; N, NEIN). The code binds the
// reply to one request, so two requests waiting for the same person cannot be confused: a phone never
// has two live prompts with the same code. The channel then texts back what happened ("Done: Corner
// Shop is signed in.").
//
// # Wiring it up
//
//	ch, err := smschannel.New(smschannel.Config{
//		Sender:     sms,                   // notify.HTTPSMS
//		Store:      store,                 // storage/sql's Store, or storage/memory
//		Attempts:   store,                 // counts wrong replies
//		Secrets:    fositeConfig,          // the global secret the code signatures are derived from
//		Decider:    provider.CIBA.Decider, // the CIBA core's decision API
//		NewSession: newSession,
//		Signer:     smschannel.Signer{Key: []byte(providerAuthToken)},
//		WebhookURL: "https://id.example.com/sms/inbound", // as configured at the provider
//	})
//	mux.Handle("/sms/inbound", ch.Handler())
//
// Then use ch as the CIBA grant's AuthenticationDevice (or route devices of Kind "sms" to it). Notify
// prompts every device of the user whose Kind is DeviceKind ("sms", ID: an E.164 number);
// Config.RecipientOf changes that mapping and can add the person's locale.
//
// # The webhook
//
// The SMS provider posts each incoming message to Handler as a form (Twilio's field names From and
// Body by default), signed with a key shared with the provider: base64(HMAC(key, URL + the sorted
// parameters)), in the X-Twilio-Signature header by default; Signer describes the construction, which
// other providers share with SHA-256. Handler
//
//   - refuses a request whose signature does not match with 403, and verifies in constant time;
//   - answers every signed request 200 with the same empty TwiML document, whether it decided a request
//     or was ignored, so the answer reveals nothing (a failure of the store is a 500);
//   - acts only on a reply whose sender and code match a live prompt, and on it once: the code is
//     spent in one conditional write before the decision is recorded, so a provider's retry, a second
//     reply or a reply racing another device changes nothing;
//   - ignores everything else: messages that are no reply, codes never sent to that sender, spent or
//     expired codes, numbers it never prompted.
//
// # Codes and limits
//
// Codes are Config.CodeDigits decimal digits (default 4), drawn from crypto/rand without modulo bias.
// The store keeps only an HMAC of the phone number and the code (a key derived from the global secret
// for this purpose alone), so a copy of the store gives neither. A code lives as long as its request,
// or Config.MaxLifetime when that is shorter, and stays taken until it expires, even after use.
//
// A short code is safe because the sender must match too, and wrong codes are limited per sender
// (Config.Limits, DefaultLimits: 5 per 15 minutes): someone who can forge the sender of a text message
// gets 5 guesses in 10,000 per window. Past the limit the sender's replies are ignored, right or wrong,
// until the window passes; the person can still answer on another device.
//
// # Extra knowledge factors
//
// With Config.Knowledge (the link channel's linkchannel.KnowledgeCheck, so one check serves both
// channels) the prompt asks for each field's Prompt (or Label) after the code ("Reply YES 4821 followed by the last
// 4 digits of your account number"), and an approving reply must carry the answers: "YES 4821 1001".
// Wrong answers count per user (the same limits); the person is told by text message and may reply
// again with the same code. Denying never needs an answer.
//
// # Changing the texts
//
// Messages come from notify.Templates named "ciba/sms_reply" (the prompt, PromptData) and
// "ciba/sms_reply_done" (the confirmation, OutcomeData), in English and German (DefaultTemplates).
package smschannel
