package notify_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"testing/fstest"

	"github.com/fosite-contrib/grants/notify"
)

// A grant renders a localised message from its templates and sends it; in development the
// Outbox stands in for real delivery.
func Example() {
	templates := notify.NewTemplates("en", fstest.MapFS{
		"en/otp.txt": {Data: []byte(`{{define "subject"}}Your code{{end}}Your code is {{.Code}}.`)},
		"de/otp.txt": {Data: []byte(`{{define "subject"}}Ihr Code{{end}}Ihr Code lautet {{.Code}}.`)},
	})
	outbox := notify.NewOutbox(10)
	var sender notify.Sender = notify.Mux{notify.Email: outbox, notify.SMS: outbox}

	m, err := templates.Render("otp", "de-AT", map[string]string{"Code": "493 027"})
	if err != nil {
		log.Fatal(err)
	}
	m.To, m.Channel, m.Meta = "+43660123456", notify.SMS, map[string]string{"kind": "otp"}
	if err := sender.Send(context.Background(), m); err != nil {
		log.Fatal(err)
	}

	err = sender.Send(context.Background(), notify.Message{To: "+43660123456", Channel: notify.Voice, Text: "hi"})
	fmt.Println(err, "| retry:", notify.Retryable(err))

	for _, m := range outbox.Messages() {
		fmt.Printf("%s %s [%s]: %s", m.Channel, m.To, m.Locale, m.Text)
	}
	// Output:
	// notify: no sender for channel "voice" | retry: false
	// sms +43660123456 [de]: Ihr Code lautet 493 027.
}

// Production senders: e-mail over SMTP with STARTTLS and AUTH, text messages through an HTTP
// API, one Sender for both.
func ExampleNewSMTP() {
	mailer, err := notify.NewSMTP(notify.SMTPConfig{
		Host:     "smtp.example.com",
		From:     "Example Sign-in <no-reply@example.com>",
		Username: "no-reply@example.com",
		Password: "from-a-secret-store",
	})
	if err != nil {
		log.Fatal(err)
	}
	sms, err := notify.NewHTTPSMS(notify.HTTPSMSConfig{
		URL:   "https://sms.example.net/v1/messages",
		Token: "from-a-secret-store",
	})
	if err != nil {
		log.Fatal(err)
	}
	sender := notify.Mux{notify.Email: mailer, notify.SMS: sms}

	err = sender.Send(context.Background(), notify.Message{To: "not-an-address", Channel: notify.Email, Text: "hi"})
	fmt.Println(errors.Is(err, notify.ErrInvalidMessage), notify.Retryable(err))
	// Output: true false
}
