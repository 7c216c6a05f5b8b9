package server

import (
	"slices"

	"github.com/fosite-contrib/grants/scopechoice"
)

// The example's scopes that carry a choice (seed 002: "for some of those scopes (like Health), we even
// need the user to choose the access level and profile"). A client requests "photos" or "health"; the
// approval pages (/device, and the consent page of the authorization code flow) ask the person how
// much, and whose, and the answers become the granted scope ("photos:read", "health:read:own"), which
// the token response's scope reports (package scopechoice).

// demoChoices are the demo's scopes with a choice. DEMO: a real server keeps them with its API's scopes.
var demoChoices = func() *scopechoice.Set {
	s, err := scopechoice.NewSet(
		scopechoice.Choice{Scope: "photos", Questions: []scopechoice.Question{{
			Name: "level", Text: "What may it do with your photos?",
			Options: []scopechoice.Option{{Value: "read", Label: "Only see them"}, {Value: "manage", Label: "See them and delete them"}},
		}}},
		scopechoice.Choice{Scope: "health", Questions: []scopechoice.Question{
			{Name: "level", Text: "What may it do with the health record?",
				Options: []scopechoice.Option{{Value: "read", Label: "Only read it"}, {Value: "write", Label: "Read it and add readings"}}},
			{Name: "profile", Text: "Which record?",
				Options: []scopechoice.Option{{Value: "own", Label: "Your own"}, {Value: "family", Label: "Your family's shared record"}}},
		}},
	)
	if err != nil {
		panic(err) // fixed at build time
	}
	return s
}()

// choiceScopes are every scope of the demo's choices, the requested ones and what they can be granted
// as: the clients that may request them must be allowed them all (fosite checks a refresh token's
// scopes against its client's).
var choiceScopes = func() []string {
	var out []string
	for _, c := range []string{"photos", "health"} {
		out = append(out, c)
		out = append(out, demoChoices.Scopes(c)...)
	}
	return out
}()

func init() {
	for scope, d := range map[string]string{
		"photos": "Your photos (you choose how much below)", "photos:read": "See your photos",
		"photos:manage":   "See and delete your photos",
		"health":          "Your health record (you choose how much, and whose, below)",
		"health:read:own": "Read your own health record", "health:write:own": "Read your own health record and add readings",
		"health:read:family": "Read your family's shared health record", "health:write:family": "Read your family's shared health record and add readings",
	} {
		scopeDescriptions[scope] = d
	}
}

// withChoiceScopes returns scopes plus every scope of the demo's choices.
func withChoiceScopes(scopes []string) []string {
	return append(slices.Clone(scopes), choiceScopes...)
}

// choiceScopeView is a requested scope as an approval page shows it: its description and, for a scope
// with a choice, its questions.
type choiceScopeView struct {
	Name, Description string
	Questions         []questionView
}

type questionView struct {
	Field, Text string
	Options     []optionView
}

type optionView struct {
	ID, Value, Label string
	Checked          bool
}

// describeScopeChoices describes requested for an approval page, each question's answer selected as in
// answered (a form sent back after an error), else its default.
func describeScopeChoices(requested []string, answered map[string][]string) []choiceScopeView {
	out := make([]choiceScopeView, 0, len(requested))
	for _, sv := range describeScopes(requested) {
		v := choiceScopeView{Name: sv.Name, Description: sv.Description}
		if c, ok := demoChoices.Lookup(sv.Name); ok {
			for _, q := range c.Questions {
				field := scopechoice.FieldName(c.Scope, q.Name)
				selected := q.DefaultAnswer()
				if a := answered[field]; len(a) == 1 {
					selected = a[0]
				}
				qv := questionView{Field: field, Text: q.Text}
				for _, o := range q.Options {
					qv.Options = append(qv.Options, optionView{ID: field + ":" + o.Value, Value: o.Value, Label: o.Label, Checked: o.Value == selected})
				}
				v.Questions = append(v.Questions, qv)
			}
		}
		out = append(out, v)
	}
	return out
}
