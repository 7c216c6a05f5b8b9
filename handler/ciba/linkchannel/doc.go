// Package linkchannel is a ready CIBA authentication device (ciba.AuthenticationDevice) for people
// without an app: the request reaches them as an e-mail or a text message with a link, and they
// approve or deny on a web page (OpenID CIBA Core 1.0 §8 leaves the device and its UI to the OP).
//
// # What the person gets
//
// An e-mail names the client, lists the requested scopes in plain language ("see your e-mail
// address"), shows the binding_message so it can be compared with the one on the consumption device,
// and carries a link. A text message is one line: client, binding message, short link. The link
// opens a page with the same facts and two buttons, Approve and Deny.
//
// # Wiring it up
//
//	ch, err := linkchannel.New(linkchannel.Config{
//		Sender:     sender,                // notify.SMTP, notify.HTTPSMS, a notify.Mux of both
//		Store:      store,                 // storage/sql's Store, or &memory.CIBALinkStore{}
//		Secrets:    fositeConfig,          // the global secret the link keys are derived from
//		LinkURL:    "https://id.example.com/l",
//		Decider:    provider.CIBA.Decider, // the CIBA core's decision API
//		NewSession: newSession,            // the session tokens are issued with
//	})
//	mux.Handle("/l/", ch.Handler())
//
// Then use ch as the CIBA grant's AuthenticationDevice. Notify sends a link to every device of the
// user whose Kind is "email" (ID: an address) or "sms" (ID: an E.164 number); Config.RecipientOf
// changes that mapping and can add the person's locale.
//
// # The links
//
// A link is LinkURL + "/" + a 32-character token: 128 random bits and a 64-bit HMAC tag, base64url.
// The tag key and the storage key are derived from the global secret for this purpose alone, so the
// page refuses forged tokens before touching the store, and the store holds only an HMAC of each
// token. A link
//
//   - expires with the CIBA request, or earlier when Config.MaxLifetime is set;
//   - is single use: after one decision it shows "already used" and changes nothing, even when two
//     submissions race (Store.UseCIBALink is one conditional update);
//   - is not spent by GET: mail scanners that open links do no harm.
//
// The form posts the token back in a hidden field. No cookie is set or read, so there is no ambient
// credential for a cross-site request to ride on (the classic CSRF); the page is never cached, never
// framed and sends no Referer, so the token does not leak from it.
//
// # Extra knowledge factors
//
// Possession of a mailbox or a phone is one factor. For approvals that need more, set
// Config.Knowledge: the page then asks for the fields it lists (a date of birth, the last digits of
// an account) before an approval, without changing the CIBA flow: the client waits as before. Wrong
// answers count against Config.Limiter per user (pending.Limiter); at the limit even a right answer
// is refused until the window passes. Denying never needs an answer.
//
// # Changing the texts
//
// Messages come from notify.Templates named "ciba/link" (e-mail: subject, text, HTML) and
// "ciba/link_sms", in English and German (DefaultTemplates). Put a layer of your own in front to
// change them or add a language; the Recipient's Locale picks the language. Config.DescribeScope
// describes your own scopes. The page is an html/template (Config.Page) defining "page"; it receives
// PageData, and its language follows the message's.
//
// # Failure behaviour
//
// Notify sends before it returns. A message that cannot be sent fails the backchannel request with
// server_error rather than leaving the client polling for a person who was never reached. A link
// whose request is no longer pending (answered on another device or through another link, or
// expired) shows "This request is closed" and changes nothing; the page asks the core
// (Decider.Lookup) before it shows the buttons and again when it records the decision.
package linkchannel
