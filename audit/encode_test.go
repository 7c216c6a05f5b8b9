package audit

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3/jwt"
	"github.com/stretchr/testify/require"
)

// setBody is the layout newBody writes: every claim of a SET but "seq" and
// "prev". The tests check newBody against what encoding/json makes of it.
type setBody struct {
	Issuer      string          `json:"iss"`
	IssuedAt    int64           `json:"iat"`
	ID          string          `json:"jti"`
	Audience    jwt.Audience    `json:"aud,omitempty"`
	SubjectID   *subjectID      `json:"sub_id,omitempty"`
	TimeOfEvent int64           `json:"toe"`
	Transaction string          `json:"txn,omitempty"`
	Events      json.RawMessage `json:"events"`
}

var trickyStrings = []string{
	"", "plain", `quote " and backslash \`, "<script>&amp;</script>", "tab\tnew\nline\rret\bbs\fff",
	"\x00\x01\x1f\x7f", "é ü ß 日本 🙂", "line\u2028sep\u2029para", "bad \xff\xfe utf8 \xc3", "\xed\xa0\x80 surrogate",
	"ends in \xe2\x82",
}

// TestAppendStringMatchesEncodingJSON: appendString writes the bytes encoding/json writes.
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	cases := append([]string(nil), trickyStrings...)
	for b := 0; b < 256; b++ {
		cases = append(cases, string([]byte{byte(b)}), "a"+string([]byte{byte(b)})+"z")
	}
	for _, s := range cases {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, string(want), string(appendString(nil, s)), "%q", s)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Skip()
		}
		if got := appendString(nil, s); string(got) != string(want) {
			t.Fatalf("appendString(%q) = %s, encoding/json: %s", s, got, want)
		}
	})
}

// TestNewBodyMatchesEncodingJSON: newBody writes what encoding/json makes of setBody with the event as
// a map, for events with every kind of member.
func TestNewBodyMatchesEncodingJSON(t *testing.T) {
	at := time.Unix(1_741_944_600, 0)
	for _, tc := range []struct {
		name string
		e    Event
		aud  []string
	}{
		{"bare", Event{Type: EventExpired, Time: at}, nil},
		{"everything", Event{
			Type: EventApproved, Grant: GrantDeviceCode, Subject: "customer <1042>", Actor: "clerk & co", ClientID: "tv\u2028app",
			RequestID: "req-8f14", Time: at,
			Data: map[string]any{"proofing": "id_document", "n": 5, "f": 1.5, "ok": true, "none": nil, "list": []string{"a", "<b>"},
				"nested": map[string]any{"z": 1, "a": "x"}, "zz": "\xff", "Upper": "sorts first", "a b": "space"},
		}, []string{"https://audit.example.com"}},
		{"two audiences", Event{Type: EventRedeemed, Subject: "s", Time: at, Data: map[string]any{"scopes": "openid profile"}}, []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload := map[string]any{}
			for k, v := range tc.e.Data {
				payload[k] = v
			}
			for k, v := range map[string]string{claimGrant: tc.e.Grant, claimActor: tc.e.Actor, claimClientID: tc.e.ClientID} {
				if v != "" {
					payload[k] = v
				}
			}
			events, err := json.Marshal(map[string]any{tc.e.Type: payload})
			require.NoError(t, err)
			want := setBody{Issuer: "https://as.example.com", IssuedAt: at.Unix(), ID: "jti-1", Audience: jwt.Audience(tc.aud),
				TimeOfEvent: tc.e.Time.Unix(), Transaction: tc.e.RequestID, Events: events}
			if tc.e.Subject != "" {
				want.SubjectID = &subjectID{Format: "opaque", ID: tc.e.Subject}
			}
			wantJSON, err := json.Marshal(want)
			require.NoError(t, err)
			got, err := newBody(tc.e, "https://as.example.com", tc.aud, at, "jti-1")
			require.NoError(t, err)
			require.Equal(t, string(wantJSON), string(got))
		})
	}

	_, err := newBody(Event{Type: EventApproved, Data: map[string]any{"ch": make(chan int)}}, "iss", nil, at, "j")
	require.Error(t, err, "a value JSON cannot hold is an error, not a broken record")
}
