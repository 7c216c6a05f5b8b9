package scopechoice_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/scopechoice"
)

func demoSet(t testing.TB) *scopechoice.Set {
	t.Helper()
	s, err := scopechoice.NewSet(
		scopechoice.Choice{Scope: "photos", Questions: []scopechoice.Question{{Name: "level", Text: "What may it do with your photos?",
			Options: []scopechoice.Option{{Value: "read", Label: "See them"}, {Value: "manage", Label: "See and delete them"}}}}},
		scopechoice.Choice{Scope: "health", Questions: []scopechoice.Question{
			{Name: "level", Options: []scopechoice.Option{{Value: "read"}, {Value: "write"}}},
			{Name: "profile", Default: "family", Options: []scopechoice.Option{{Value: "own"}, {Value: "family"}}},
		}},
	)
	require.NoError(t, err)
	return s
}

func answers(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func TestGrant(t *testing.T) {
	t.Parallel()
	s := demoSet(t)
	photos, hl, hp := scopechoice.FieldName("photos", "level"), scopechoice.FieldName("health", "level"), scopechoice.FieldName("health", "profile")
	for _, tc := range []struct {
		name    string
		kept    []string
		form    url.Values
		want    []string
		chosen  map[string][]string
		wantErr bool
	}{
		{"no choices", []string{"openid", "profile"}, nil, []string{"openid", "profile"}, nil, false},
		{"an access level", []string{"openid", "photos"}, answers(photos, "manage"), []string{"openid", "photos:manage"},
			map[string][]string{"photos": {"photos:manage"}}, false},
		{"a level and a profile", []string{"health"}, answers(hl, "read", hp, "own"), []string{"health:read:own"},
			map[string][]string{"health": {"health:read:own"}}, false},
		{"a choice not kept is not granted, its answers ignored", []string{"openid"}, answers(photos, "manage"), []string{"openid"}, nil, false},
		{"kept twice counts once", []string{"photos", "photos"}, answers(photos, "read"), []string{"photos:read"},
			map[string][]string{"photos": {"photos:read"}}, false},
		{"no answer", []string{"photos"}, nil, nil, nil, true},
		{"one of two answers", []string{"health"}, answers(hl, "read"), nil, nil, true},
		{"not an option", []string{"photos"}, answers(photos, "admin"), nil, nil, true},
		{"two answers to one question", []string{"photos"}, answers(photos, "read", photos, "manage"), nil, nil, true},
		{"an answer that smuggles a colon", []string{"health"}, answers(hl, "read:own", hp, "own"), nil, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := s.Grant(tc.kept, tc.form)
			if tc.wantErr {
				require.ErrorIs(t, err, scopechoice.ErrInvalidChoice)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, g.Scopes)
			require.Equal(t, tc.chosen, g.Chosen)
		})
	}
}

func TestScopesAndDefaults(t *testing.T) {
	t.Parallel()
	s := demoSet(t)
	require.Equal(t, []string{"photos:read", "photos:manage"}, s.Scopes("photos"))
	require.Equal(t, []string{"health:read:own", "health:read:family", "health:write:own", "health:write:family"}, s.Scopes("health"))
	require.Nil(t, s.Scopes("openid"))
	c, ok := s.Lookup("health")
	require.True(t, ok)
	require.Equal(t, "read", c.Questions[0].DefaultAnswer(), "no default: the first option")
	require.Equal(t, "family", c.Questions[1].DefaultAnswer())
	var order []string
	for _, c := range s.For([]string{"health", "openid", "photos"}) {
		order = append(order, c.Scope)
	}
	require.Equal(t, []string{"health", "photos"}, order, "in the order requested")
	var nilSet *scopechoice.Set
	require.Empty(t, nilSet.For([]string{"photos"}))
}

func TestNewSetRefuses(t *testing.T) {
	t.Parallel()
	q := func(name string, values ...string) scopechoice.Question {
		var o []scopechoice.Option
		for _, v := range values {
			o = append(o, scopechoice.Option{Value: v})
		}
		return scopechoice.Question{Name: name, Options: o}
	}
	for name, cs := range map[string][]scopechoice.Choice{
		"empty scope":           {{Scope: "", Questions: []scopechoice.Question{q("l", "a")}}},
		"scope with a colon":    {{Scope: "a:b", Questions: []scopechoice.Question{q("l", "a")}}},
		"scope with a space":    {{Scope: "a b", Questions: []scopechoice.Question{q("l", "a")}}},
		"scope twice":           {{Scope: "a", Questions: []scopechoice.Question{q("l", "a")}}, {Scope: "a", Questions: []scopechoice.Question{q("l", "a")}}},
		"no question":           {{Scope: "a"}},
		"question twice":        {{Scope: "a", Questions: []scopechoice.Question{q("l", "a"), q("l", "b")}}},
		"no options":            {{Scope: "a", Questions: []scopechoice.Question{q("l")}}},
		"option twice":          {{Scope: "a", Questions: []scopechoice.Question{q("l", "x", "x")}}},
		"option with a colon":   {{Scope: "a", Questions: []scopechoice.Question{q("l", "x:y")}}},
		"default not an option": {{Scope: "a", Questions: []scopechoice.Question{{Name: "l", Default: "z", Options: []scopechoice.Option{{Value: "x"}}}}}},
		"option too long":       {{Scope: "a", Questions: []scopechoice.Question{q("l", strings.Repeat("x", 65))}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := scopechoice.NewSet(cs...)
			require.Error(t, err)
		})
	}
}

// FuzzGrant: whatever a form holds, what is granted is a kept scope without a choice, or one of the
// scopes its choice can grant — never anything else.
func FuzzGrant(f *testing.F) {
	f.Add("openid photos", "choice:photos:level=read")
	f.Add("health", "choice:health:level=write&choice:health:profile=own")
	f.Add("photos photos", "choice:photos:level=read&choice:photos:level=read")
	f.Add("health", "choice:health:level=read%3Aown&choice:health:profile=own")
	f.Fuzz(func(t *testing.T, kept, query string) {
		s := demoSet(t)
		form, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		k := strings.Fields(kept)
		g, err := s.Grant(k, form)
		if err != nil {
			require.ErrorIs(t, err, scopechoice.ErrInvalidChoice)
			return
		}
		for _, granted := range g.Scopes {
			if _, isChoice := s.Lookup(granted); !isChoice && slices.Contains(k, granted) {
				continue // a kept scope without a choice, granted as it is
			}
			base, _, _ := strings.Cut(granted, ":")
			require.Contains(t, k, base, "granted %q for a scope not kept", granted)
			require.True(t, slices.Contains(s.Scopes(base), granted), "granted %q, not one of %v", granted, s.Scopes(base))
			require.Equal(t, []string{granted}, g.Chosen[base])
		}
	})
}
