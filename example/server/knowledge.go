package server

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/fosite-contrib/grants/handler/ciba/linkchannel"
	"github.com/fosite-contrib/grants/handler/pending"
)

// The example's knowledge factors (seed 000: "servers wanting higher assurance can ask for extra
// knowledge factors on that page without changing the flow"). With -ciba-knowledge (CIBAOptions.Knowledge)
// an approval by e-mail link or by text-message reply also needs an answer only the account holder
// should know; the client waits as before. Wrong answers are limited per user.

// The knowledge checks CIBAOptions.Knowledge names.
const (
	// KnowledgeAccountDigits asks for the last 4 digits of the account number (DEMO numbers: alice
	// ACCT-1001, bob ACCT-1002, carol ACCT-1003, dave ACCT-1004).
	KnowledgeAccountDigits = "account-digits"
	// KnowledgeBirthDate asks for the date of birth on the link page (DEMO dates: alice 1865-11-26,
	// bob 1998-04-12, carol 1968-03-01, dave 1981-02-15); a text-message reply gives it as 1981-02-15.
	KnowledgeBirthDate = "birthdate"
)

// KnowledgeChecks lists the values of CIBAOptions.Knowledge, for the -ciba-knowledge flag.
var KnowledgeChecks = []string{KnowledgeAccountDigits, KnowledgeBirthDate}

// DEMO: account numbers of the demo users, for the knowledge check.
var demoAccountNumbers = map[string]string{"alice": "ACCT-1001", "bob": "ACCT-1002", "carol": "ACCT-1003", "dave": "ACCT-1004"}

func init() {
	demoBirthDates["dave"] = "1981-02-15"
}

// knowledgeCheck returns the knowledge check CIBAOptions asks for, or nil.
func (s *Server) knowledgeCheck() linkchannel.KnowledgeCheck {
	o := s.opts.CIBA
	switch {
	case o.Knowledge == KnowledgeAccountDigits:
		return demoAccountDigitsCheck{}
	case o.Knowledge == KnowledgeBirthDate || o.AskDateOfBirth:
		return demoBirthDateCheck{}
	}
	return nil
}

// checkKnowledgeOption refuses an unknown CIBAOptions.Knowledge.
func checkKnowledgeOption(k string) error {
	if k == "" {
		return nil
	}
	for _, v := range KnowledgeChecks {
		if k == v {
			return nil
		}
	}
	return fmt.Errorf("example: unknown knowledge check %q (want one of %s)", k, strings.Join(KnowledgeChecks, ", "))
}

// knowledgeLimiter bounds wrong answers on the link page per user (the SMS channel has its own).
func (s *Server) knowledgeLimiter() *pending.Limiter {
	return &pending.Limiter{Storage: s.store, Scope: "ciba-link-knowledge", Limits: pending.Limits{PerAccount: 5, Window: 15 * time.Minute}}
}

// demoAccountDigitsCheck asks for the last 4 digits of the user's account number.
type demoAccountDigitsCheck struct{}

func (demoAccountDigitsCheck) Fields(_ context.Context, subject string) []linkchannel.Field {
	if _, ok := demoAccountNumbers[subject]; !ok {
		return nil
	}
	return []linkchannel.Field{{Name: "account_digits", Label: "Last 4 digits of your account number", Type: "text",
		Prompt: "the last 4 digits of your account number"}}
}

func (demoAccountDigitsCheck) Verify(_ context.Context, subject string, form url.Values) error {
	acct, ok := demoAccountNumbers[subject]
	want := acct[max(len(acct)-4, 0):]
	got := strings.TrimSpace(form.Get("account_digits"))
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return linkchannel.ErrWrongAnswer
	}
	return nil
}
