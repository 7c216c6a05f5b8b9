package audit

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v3"
	"github.com/stretchr/testify/require"
)

// testKey is a signing key with a key ID, and the KeySet that trusts it.
type testKey struct {
	signing jose.SigningKey
	keys    KeyFunc
}

func newTestKey(t *testing.T, kid string) testKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	jwk := jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: string(jose.ES256), Use: "sig"}
	return testKey{
		signing: jose.SigningKey{Algorithm: jose.ES256, Key: jwk},
		keys:    KeySet(&jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk.Public()}}),
	}
}

// kioskLog writes n kiosk approvals to a fresh MemoryStorage.
func kioskLog(t *testing.T, k testKey, n int) *MemoryStorage {
	t.Helper()
	s := NewMemoryStorage()
	l, err := NewLog(s, k.signing, Options{Issuer: "https://as.example.com"})
	require.NoError(t, err)
	for i := 1; i <= n; i++ {
		require.NoError(t, l.Record(context.Background(), Event{
			Type:      EventApproved,
			Grant:     GrantDeviceCode,
			Subject:   fmt.Sprintf("customer-%d", i),
			Actor:     "clerk-7",
			ClientID:  "kiosk-tv",
			RequestID: fmt.Sprintf("req-%d", i),
			Data:      map[string]any{"proofing": "id_document"},
		}))
	}
	return s
}

// claimsOf returns the unverified claims of token.
func claimsOf(t *testing.T, token string) setClaims {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var c setClaims
	require.NoError(t, json.Unmarshal(raw, &c))
	return c
}

// signClaims signs c as a SET with key, as someone holding key would.
func signClaims(t *testing.T, key jose.SigningKey, c setClaims) string {
	t.Helper()
	signer, err := jose.NewSigner(key, (&jose.SignerOptions{}).WithType(TokenType))
	require.NoError(t, err)
	payload, err := json.Marshal(c)
	require.NoError(t, err)
	jws, err := signer.Sign(payload)
	require.NoError(t, err)
	token, err := jws.CompactSerialize()
	require.NoError(t, err)
	return token
}

// unsigned builds a compact token from raw header and claims JSON and a
// signature part.
func unsigned(header, claims, sig string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(claims)) + "." + sig
}

func TestVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ours := newTestKey(t, "ours")
	attacker := newTestKey(t, "attacker")

	for _, tc := range []struct {
		name string
		// tamper changes the six-record log; nil leaves it alone.
		tamper     func(t *testing.T, recs []Record) []Record
		anchorAt   int64 // take an anchor of the untouched log at this seq
		wantSeq    int64
		wantReason Reason // "" means the log verifies
		wantIntact int64  // Report.Records
	}{
		{name: "untouched log verifies", wantIntact: 6},
		{
			name:       "untouched log verifies against its anchor",
			anchorAt:   6,
			wantIntact: 6,
		},
		{
			name: "event edited and re-stored",
			tamper: func(t *testing.T, recs []Record) []Record {
				parts := strings.Split(recs[2].Token, ".")
				c := claimsOf(t, recs[2].Token)
				c.SubjectID.ID = "someone-else"
				payload, err := json.Marshal(c)
				require.NoError(t, err)
				parts[1] = base64.RawURLEncoding.EncodeToString(payload)
				recs[2].Token = strings.Join(parts, ".")
				return recs
			},
			wantSeq: 3, wantReason: ReasonEdited, wantIntact: 2,
		},
		{
			name:    "event removed",
			tamper:  func(t *testing.T, recs []Record) []Record { return append(recs[:2], recs[3:]...) },
			wantSeq: 3, wantReason: ReasonRemoved, wantIntact: 2,
		},
		{
			name: "event removed and the rest renumbered",
			tamper: func(t *testing.T, recs []Record) []Record {
				recs = append(recs[:2], recs[3:]...)
				for i := range recs {
					recs[i].Seq = int64(i + 1)
				}
				return recs
			},
			wantSeq: 3, wantReason: ReasonRemoved, wantIntact: 2,
		},
		{
			name:    "first event removed",
			tamper:  func(t *testing.T, recs []Record) []Record { return recs[1:] },
			wantSeq: 1, wantReason: ReasonRemoved, wantIntact: 0,
		},
		{
			name: "two neighbours swapped",
			tamper: func(t *testing.T, recs []Record) []Record {
				recs[2].Token, recs[3].Token = recs[3].Token, recs[2].Token
				return recs
			},
			wantSeq: 3, wantReason: ReasonReordered, wantIntact: 2,
		},
		{
			name: "two distant events swapped",
			tamper: func(t *testing.T, recs []Record) []Record {
				recs[1].Token, recs[4].Token = recs[4].Token, recs[1].Token
				return recs
			},
			wantSeq: 2, wantReason: ReasonReordered, wantIntact: 1,
		},
		{
			name: "event duplicated",
			tamper: func(t *testing.T, recs []Record) []Record {
				recs = append(recs[:3], append([]Record{recs[1]}, recs[3:]...)...)
				for i := range recs {
					recs[i].Seq = int64(i + 1)
				}
				return recs
			},
			wantSeq: 4, wantReason: ReasonReordered, wantIntact: 3,
		},
		{
			name: "record moved to another row",
			tamper: func(t *testing.T, recs []Record) []Record {
				recs[5].Seq = 9
				return recs
			},
			wantSeq: 6, wantReason: ReasonReordered, wantIntact: 5,
		},
		{
			name: "signature from another key",
			tamper: func(t *testing.T, recs []Record) []Record {
				c := claimsOf(t, recs[2].Token)
				c.SubjectID.ID = "someone-else"
				recs[2].Token = signClaims(t, attacker.signing, c)
				return recs
			},
			wantSeq: 3, wantReason: ReasonBadSignature, wantIntact: 2,
		},
		{
			name: "tail rebuilt with another key",
			tamper: func(t *testing.T, recs []Record) []Record {
				for i := 2; i < len(recs); i++ {
					c := claimsOf(t, recs[i].Token)
					c.Prev = TokenHash(recs[i-1].Token)
					recs[i].Token = signClaims(t, attacker.signing, c)
				}
				return recs
			},
			wantSeq: 3, wantReason: ReasonBadSignature, wantIntact: 2,
		},
		{
			name: "another key claiming our kid",
			tamper: func(t *testing.T, recs []Record) []Record {
				key := attacker.signing
				jwk := key.Key.(jose.JSONWebKey)
				jwk.KeyID = "ours"
				key.Key = jwk
				recs[2].Token = signClaims(t, key, claimsOf(t, recs[2].Token))
				return recs
			},
			wantSeq: 3, wantReason: ReasonEdited, wantIntact: 2,
		},
		{
			name: `"alg":"none"`,
			tamper: func(t *testing.T, recs []Record) []Record {
				claims, err := json.Marshal(claimsOf(t, recs[2].Token))
				require.NoError(t, err)
				recs[2].Token = unsigned(`{"alg":"none","typ":"secevent+jwt","kid":"ours"}`, string(claims), "")
				return recs
			},
			wantSeq: 3, wantReason: ReasonBadSignature, wantIntact: 2,
		},
		{
			name: "HMAC token",
			tamper: func(t *testing.T, recs []Record) []Record {
				key := jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")}
				recs[2].Token = signClaims(t, key, claimsOf(t, recs[2].Token))
				return recs
			},
			wantSeq: 3, wantReason: ReasonBadSignature, wantIntact: 2,
		},
		{
			name: "replaced by a validly signed SET from another log",
			tamper: func(t *testing.T, recs []Record) []Record {
				other, err := kioskLog(t, ours, 3).ListAuditRecords(ctx, 2, 1)
				require.NoError(t, err)
				recs[2].Token = other[0].Token
				return recs
			},
			wantSeq: 3, wantReason: ReasonBrokenChain, wantIntact: 2,
		},
		{
			name: "first record does not start at genesis",
			tamper: func(t *testing.T, recs []Record) []Record {
				c := claimsOf(t, recs[0].Token)
				c.Prev = TokenHash("elsewhere")
				recs[0].Token = signClaims(t, ours.signing, c)
				return recs
			},
			wantSeq: 1, wantReason: ReasonBrokenChain, wantIntact: 0,
		},
		{
			name: "garbage stored",
			tamper: func(t *testing.T, recs []Record) []Record {
				recs[3].Token = `{"payload":"x","signatures":[]}`
				return recs
			},
			wantSeq: 4, wantReason: ReasonMalformed, wantIntact: 3,
		},
		{
			name: "a JWT that is not a SET",
			tamper: func(t *testing.T, recs []Record) []Record {
				signer, err := jose.NewSigner(ours.signing, (&jose.SignerOptions{}).WithType("JWT"))
				require.NoError(t, err)
				jws, err := signer.Sign([]byte(`{"iss":"https://as.example.com","sub":"customer-4"}`))
				require.NoError(t, err)
				recs[3].Token, err = jws.CompactSerialize()
				require.NoError(t, err)
				return recs
			},
			wantSeq: 4, wantReason: ReasonMalformed, wantIntact: 3,
		},
		{
			name:       "tail removed: undetectable without an anchor",
			tamper:     func(t *testing.T, recs []Record) []Record { return recs[:4] },
			wantIntact: 4,
		},
		{
			name:     "tail removed: detected with an anchor",
			tamper:   func(t *testing.T, recs []Record) []Record { return recs[:4] },
			anchorAt: 6,
			wantSeq:  5, wantReason: ReasonTruncated, wantIntact: 4,
		},
		{
			name: "log rewritten by the key holder: detected with an anchor",
			tamper: func(t *testing.T, recs []Record) []Record {
				fresh := kioskLog(t, ours, 6)
				return fresh.records
			},
			anchorAt: 4,
			wantSeq:  4, wantReason: ReasonBrokenChain, wantIntact: 3,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := kioskLog(t, ours, 6)
			var anchor Head
			if tc.anchorAt > 0 {
				recs, err := s.ListAuditRecords(ctx, tc.anchorAt-1, 1)
				require.NoError(t, err)
				anchor = Head{Seq: tc.anchorAt, Hash: TokenHash(recs[0].Token)}
			}
			if tc.tamper != nil {
				s.records = tc.tamper(t, s.records)
			}

			v := &Verifier{Keys: ours.keys, Anchor: anchor, PageSize: 2}
			rep, err := v.Verify(ctx, s)
			require.Equal(t, tc.wantIntact, rep.Records)
			if tc.wantReason == "" {
				require.NoError(t, err)
				last := s.records[len(s.records)-1]
				require.Equal(t, Head{Seq: last.Seq, Hash: TokenHash(last.Token)}, rep.Head)
				return
			}
			require.ErrorIs(t, err, ErrTampered)
			var te *TamperError
			require.ErrorAs(t, err, &te)
			require.Equal(t, tc.wantReason, te.Reason, te.Detail)
			require.Equal(t, tc.wantSeq, te.Seq, te.Detail)
			require.Equal(t, tc.wantSeq-1, rep.Head.Seq)
		})
	}
}

func TestVerifyEmptyLog(t *testing.T) {
	t.Parallel()
	k := newTestKey(t, "k")
	rep, err := Verify(context.Background(), NewMemoryStorage(), k.keys)
	require.NoError(t, err)
	require.Equal(t, Report{Head: Head{Seq: 0, Hash: GenesisHash}}, rep)
}

func TestVerifierRejectsBadConfiguration(t *testing.T) {
	t.Parallel()
	k := newTestKey(t, "k")
	for _, tc := range []struct {
		name string
		v    Verifier
	}{
		{name: "no keys", v: Verifier{}},
		{name: "HMAC allowed", v: Verifier{Keys: k.keys, Algorithms: []jose.SignatureAlgorithm{jose.ES256, jose.HS256}}},
		{name: "none allowed", v: Verifier{Keys: k.keys, Algorithms: []jose.SignatureAlgorithm{"none"}}},
		{name: "anchor without hash", v: Verifier{Keys: k.keys, Anchor: Head{Seq: 3}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := tc.v.Verify(context.Background(), kioskLog(t, k, 1))
			require.Error(t, err)
			require.NotErrorIs(t, err, ErrTampered)
		})
	}
}

func TestVerifyAlgorithmAllowList(t *testing.T) {
	t.Parallel()
	k := newTestKey(t, "k")
	s := kioskLog(t, k, 2)
	v := &Verifier{Keys: k.keys, Algorithms: []jose.SignatureAlgorithm{jose.EdDSA}}
	_, err := v.Verify(context.Background(), s)
	var te *TamperError
	require.ErrorAs(t, err, &te)
	require.Equal(t, ReasonBadSignature, te.Reason)
	require.EqualValues(t, 1, te.Seq)
}

func TestHeadRoundTrip(t *testing.T) {
	t.Parallel()
	h := Head{Seq: 42, Hash: TokenHash("token")}
	got, err := ParseHead(h.String())
	require.NoError(t, err)
	require.Equal(t, h, got)

	for _, bad := range []string{"", "42", "x:" + h.Hash, "-1:" + h.Hash, "42:short"} {
		_, err := ParseHead(bad)
		require.Error(t, err, bad)
	}
}
