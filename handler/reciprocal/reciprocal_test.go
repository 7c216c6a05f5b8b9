package reciprocal_test

import (
	"bytes"
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/fosite-contrib/grants/handler/reciprocal"
)

var secret = bytes.Repeat([]byte("s"), 32)

func TestVault(t *testing.T) {
	t.Parallel()
	v, err := reciprocal.NewVault(secret)
	require.NoError(t, err)
	tok := (&oauth2.Token{AccessToken: "at", RefreshToken: "rt", TokenType: "bearer", Expiry: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}).
		WithExtra(map[string]interface{}{"scope": "openid profile"})
	sealed, err := v.Seal(tok, "partner", "alice")
	require.NoError(t, err)
	require.NotContains(t, string(sealed), "at\"", "the token is not stored in clear")

	t.Run("round trip", func(t *testing.T) {
		got, err := v.Open(sealed, "partner", "alice")
		require.NoError(t, err)
		require.Equal(t, "at", got.AccessToken)
		require.Equal(t, "rt", got.RefreshToken)
		require.Equal(t, "bearer", got.TokenType)
		require.True(t, tok.Expiry.Equal(got.Expiry))
		require.Equal(t, "openid profile", got.Extra("scope"))
	})
	for _, tc := range []struct {
		name            string
		sealed          []byte
		client, subject string
	}{
		{"other subject", sealed, "partner", "bob"},
		{"other client", sealed, "other", "alice"},
		{"tampered", append(append([]byte{}, sealed[:len(sealed)-1]...), sealed[len(sealed)-1]^1), "partner", "alice"},
		{"truncated", sealed[:10], "partner", "alice"},
		{"empty", nil, "partner", "alice"},
		{"unknown version", append([]byte{9}, sealed[1:]...), "partner", "alice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Open(tc.sealed, tc.client, tc.subject)
			require.ErrorIs(t, err, reciprocal.ErrUnsealable)
		})
	}

	t.Run("rotated secret still opens, other secret does not", func(t *testing.T) {
		newSecret := bytes.Repeat([]byte("n"), 32)
		rotated, err := reciprocal.NewVault(newSecret, secret)
		require.NoError(t, err)
		got, err := rotated.Open(sealed, "partner", "alice")
		require.NoError(t, err)
		require.Equal(t, "at", got.AccessToken)
		other, err := reciprocal.NewVault(newSecret)
		require.NoError(t, err)
		_, err = other.Open(sealed, "partner", "alice")
		require.ErrorIs(t, err, reciprocal.ErrUnsealable)
	})

	t.Run("short secret refused", func(t *testing.T) {
		_, err := reciprocal.NewVault([]byte("short"))
		require.Error(t, err)
	})

	t.Run("code hash is keyed and stable", func(t *testing.T) {
		other, _ := reciprocal.NewVault(bytes.Repeat([]byte("o"), 32))
		require.Equal(t, v.CodeHash("c"), v.CodeHash("c"))
		require.NotEqual(t, v.CodeHash("c"), v.CodeHash("d"))
		require.NotEqual(t, v.CodeHash("c"), other.CodeHash("c"))
	})
}

func TestCheckEndpoint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url      string
		loopback bool
		ok       bool
	}{
		{"https://partner.example/token", false, true},
		{"HTTPS://partner.example/token", false, true},
		{"http://partner.example/token", true, false},
		{"http://127.0.0.1:8080/token", false, false},
		{"http://127.0.0.1:8080/token", true, true},
		{"http://127.8.9.1/token", true, true},
		{"http://[::1]:8080/token", true, true},
		{"http://localhost:8080/token", true, true},
		{"http://localhost.partner.example/token", true, false},
		{"https://user:pass@partner.example/token", false, false},
		{"/token", true, false},
		{"ftp://partner.example/token", true, false},
		{"https://", false, false},
		{"::", false, false},
	} {
		t.Run(tc.url, func(t *testing.T) {
			err := reciprocal.CheckEndpointString(tc.url, tc.loopback)
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

func TestNewHTTPClientRefusesInsecureURLs(t *testing.T) {
	t.Parallel()
	c := reciprocal.NewHTTPClient(time.Second, false)
	_, err := c.Get("http://127.0.0.1:1/")
	require.ErrorIs(t, err, reciprocal.ErrInsecureEndpoint)
}

func TestValidScope(t *testing.T) {
	t.Parallel()
	for s, ok := range map[string]bool{
		"openid": true, "openid profile": true, "a:b/c!#[]~": true,
		"": false, " openid": false, "openid ": false, "a  b": false, `a"b`: false, `a\b`: false, "a\tb": false, "é": false,
	} {
		require.Equal(t, ok, reciprocal.ValidScope(s), "%q", s)
	}
}

type metadataClient struct {
	fosite.DefaultClient
	m map[string]any
}

func (c *metadataClient) GetMetadata() map[string]any { return c.m }

func TestClientScopes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := reciprocal.ClientScopes{Fallback: map[string]string{"plain": "openid", "meta": "fallback"}}
	for _, tc := range []struct {
		name   string
		client fosite.Client
		want   string
	}{
		{"plain client from the map", &fosite.DefaultClient{ID: "plain"}, "openid"},
		{"unknown client", &fosite.DefaultClient{ID: "other"}, ""},
		{"metadata wins", &metadataClient{DefaultClient: fosite.DefaultClient{ID: "meta"}, m: map[string]any{reciprocal.MetadataScopeKey: "profile"}}, "profile"},
		{"metadata of the wrong type", &metadataClient{DefaultClient: fosite.DefaultClient{ID: "meta"}, m: map[string]any{reciprocal.MetadataScopeKey: 3.0}}, "fallback"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := src.ReciprocalScope(ctx, tc.client)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseGrantRequest(t *testing.T) {
	t.Parallel()
	full := "code=c&client_id=a&access_token=t"
	for _, tc := range []struct {
		name, query, hint string
	}{
		{"complete", full, ""},
		{"missing code", "client_id=a&access_token=t", "'code' parameter is missing"},
		{"empty code", "code=&client_id=a&access_token=t", "'code' parameter is missing"},
		{"missing client_id", "code=c&access_token=t", "'client_id' parameter is missing"},
		{"missing access_token", "code=c&client_id=a", "'access_token' parameter is missing"},
		{"repeated code", full + "&code=d", "'code' parameter must not be included more than once"},
		{"repeated access_token", full + "&access_token=u", "'access_token' parameter must not be included more than once"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form, err := url.ParseQuery(tc.query)
			require.NoError(t, err)
			gr, err := reciprocal.ParseGrantRequest(form)
			if tc.hint == "" {
				require.NoError(t, err)
				require.Equal(t, &reciprocal.GrantRequest{Code: "c", ClientID: "a", AccessToken: "t"}, gr)
				return
			}
			require.ErrorIs(t, err, fosite.ErrInvalidRequest)
			require.Contains(t, fosite.ErrorToRFC6749Error(err).HintField, tc.hint)
		})
	}
}

// FuzzParseGrantRequest: any form either parses into the three parameters exactly as sent, or is refused
// with invalid_request; it never panics.
func FuzzParseGrantRequest(f *testing.F) {
	f.Add("code=c&client_id=a&access_token=t")
	f.Add("code=c&code=d&client_id=a&access_token=t")
	f.Add("code=&client_id=%00&access_token=%FF")
	f.Add("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Areciprocal&code=x;y&client_id=a")
	f.Fuzz(func(t *testing.T, query string) {
		form, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		gr, err := reciprocal.ParseGrantRequest(form)
		if err != nil {
			require.ErrorIs(t, err, fosite.ErrInvalidRequest)
			require.Nil(t, gr)
			return
		}
		for name, got := range map[string]string{"code": gr.Code, "client_id": gr.ClientID, "access_token": gr.AccessToken} {
			require.Len(t, form[name], 1)
			require.Equal(t, form[name][0], got)
			require.NotEmpty(t, got)
		}
	})
}
