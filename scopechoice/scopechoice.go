package scopechoice

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Option is one answer to a Question.
type Option struct {
	// Value is what the form sends and what the granted scope carries ("read"). Unique within its
	// question; characters A-Z a-z 0-9 - _ . only.
	Value string
	// Label is what the person reads ("See your photos").
	Label string
}

// Question is one thing the person chooses about a scope: the access level, the profile.
type Question struct {
	// Name identifies the question within its choice ("level"); characters A-Z a-z 0-9 - _ . only.
	Name string
	// Text is the question as the person reads it ("What may it do with your photos?").
	Text string
	// Options are the answers, at least one; put the one that gives least first.
	Options []Option
	// Default is the option the page selects at first; empty means the first option.
	Default string
}

// Choice is a scope that carries a choice: granting it takes an answer to each of its questions.
type Choice struct {
	// Scope is the scope as clients request it ("photos"); characters A-Z a-z 0-9 - _ . only.
	Scope string
	// Questions are asked in order, at least one; the granted scope carries the answers in this order.
	Questions []Question
}

// ScopeFor returns the scope granted for answers, one per question in order: the scope and each
// answer, separated by colons ("health:read:own"). It does not check the answers (Set.Grant does).
func (c Choice) ScopeFor(answers ...string) string {
	return strings.Join(append([]string{c.Scope}, answers...), ":")
}

// DefaultAnswer returns the option q's page selects at first.
func (q Question) DefaultAnswer() string {
	if q.Default != "" {
		return q.Default
	}
	if len(q.Options) > 0 {
		return q.Options[0].Value
	}
	return ""
}

// Errors of Set.
var (
	// ErrInvalidChoice: an answer is missing, or is not one of its question's options. Nothing is
	// granted.
	ErrInvalidChoice = errors.New("scopechoice: a choice is missing or not one of the options")
)

// Set is the scopes that carry a choice, by scope. Make one with NewSet; it is read-only and safe for
// concurrent use.
type Set struct {
	choices map[string]Choice
}

// NewSet checks the choices and returns them as a Set. Errors name what is wrong: a scope, question
// name or option value that is empty or holds other characters than A-Z a-z 0-9 - _ . ; a scope given
// twice; a choice without questions; a question without options, with an option given twice, or with a
// Default that is none of its options.
func NewSet(choices ...Choice) (*Set, error) {
	s := &Set{choices: map[string]Choice{}}
	for _, c := range choices {
		if !validName(c.Scope) {
			return nil, fmt.Errorf("scopechoice: scope %q: use 1 to 64 of A-Z a-z 0-9 - _ and dot", c.Scope)
		}
		if _, dup := s.choices[c.Scope]; dup {
			return nil, fmt.Errorf("scopechoice: scope %q is given twice", c.Scope)
		}
		if len(c.Questions) == 0 {
			return nil, fmt.Errorf("scopechoice: scope %q has no question", c.Scope)
		}
		names := map[string]bool{}
		for _, q := range c.Questions {
			if !validName(q.Name) || names[q.Name] {
				return nil, fmt.Errorf("scopechoice: scope %q: question %q: names are unique, 1 to 64 of A-Z a-z 0-9 - _ and dot", c.Scope, q.Name)
			}
			names[q.Name] = true
			if len(q.Options) == 0 {
				return nil, fmt.Errorf("scopechoice: scope %q: question %q has no options", c.Scope, q.Name)
			}
			values := map[string]bool{}
			for _, o := range q.Options {
				if !validName(o.Value) || values[o.Value] {
					return nil, fmt.Errorf("scopechoice: scope %q: question %q: option %q: values are unique, 1 to 64 of A-Z a-z 0-9 - _ and dot", c.Scope, q.Name, o.Value)
				}
				values[o.Value] = true
			}
			if q.Default != "" && !values[q.Default] {
				return nil, fmt.Errorf("scopechoice: scope %q: question %q: the default %q is none of the options", c.Scope, q.Name, q.Default)
			}
		}
		c.Questions = slices.Clone(c.Questions)
		s.choices[c.Scope] = c
	}
	return s, nil
}

// Lookup returns the choice of scope, if it carries one.
func (s *Set) Lookup(scope string) (Choice, bool) {
	if s == nil {
		return Choice{}, false
	}
	c, ok := s.choices[scope]
	return c, ok
}

// For returns the choices among requested, in the order requested, for the approval page to ask.
func (s *Set) For(requested []string) []Choice {
	var out []Choice
	for _, r := range requested {
		if c, ok := s.Lookup(r); ok {
			out = append(out, c)
		}
	}
	return out
}

// Scopes returns every scope a choice can grant for scope (every combination of answers), or nil when
// scope carries no choice: register them with the clients that may request scope.
func (s *Set) Scopes(scope string) []string {
	c, ok := s.Lookup(scope)
	if !ok {
		return nil
	}
	out := []string{c.Scope}
	for _, q := range c.Questions {
		var next []string
		for _, prefix := range out {
			for _, o := range q.Options {
				next = append(next, prefix+":"+o.Value)
			}
		}
		out = next
	}
	return out
}

// FieldName is the name of the form field that holds the answer to question of scope's choice.
func FieldName(scope, question string) string {
	return "choice:" + scope + ":" + question
}

// Granted is what an approval grants: the scopes, and for each kept scope that carries a choice, the
// scopes granted in its place (pending.Decision's GrantedScopes and ChosenScopes).
type Granted struct {
	Scopes []string
	Chosen map[string][]string
}

// Grant returns what is granted when the person keeps the scopes kept and answers in form (FieldName
// fields): each kept scope without a choice as it is, each kept scope with a choice replaced by the
// scope its answers make (Choice.ScopeFor); each scope once. Errors: ErrInvalidChoice, when a question
// of a kept choice has no answer or one that is not an option.
func (s *Set) Grant(kept []string, form url.Values) (Granted, error) {
	g := Granted{Scopes: []string{}}
	seen := map[string]bool{}
	for _, scope := range kept {
		if seen[scope] {
			continue
		}
		seen[scope] = true
		c, ok := s.Lookup(scope)
		if !ok {
			if !slices.Contains(g.Scopes, scope) {
				g.Scopes = append(g.Scopes, scope)
			}
			continue
		}
		answers := make([]string, 0, len(c.Questions))
		for _, q := range c.Questions {
			a := form[FieldName(scope, q.Name)]
			if len(a) != 1 || !slices.ContainsFunc(q.Options, func(o Option) bool { return o.Value == a[0] }) {
				return Granted{}, fmt.Errorf("%w: %s, %s", ErrInvalidChoice, scope, q.Name)
			}
			answers = append(answers, a[0])
		}
		granted := c.ScopeFor(answers...)
		if !slices.Contains(g.Scopes, granted) {
			g.Scopes = append(g.Scopes, granted)
		}
		if g.Chosen == nil {
			g.Chosen = map[string][]string{}
		}
		g.Chosen[scope] = []string{granted}
	}
	return g, nil
}

// validName reports whether s is 1 to 64 of A-Z a-z 0-9 - _ . (no colon, so answers stay apart).
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
