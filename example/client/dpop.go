package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/fosite-contrib/grants/dpop"
)

// withDPoP returns a copy of c that adds a DPoP proof (RFC 9449) made with a new P-256 key to every
// request, retrying once when the server asks for a nonce, and the prover holding the key. The key
// lives as long as the process: the tokens are bound to it, so they are useless to anyone who copies
// them from the output.
func withDPoP(c *http.Client) (*http.Client, *dpop.Prover, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	p, err := dpop.NewProver(key)
	if err != nil {
		return nil, nil, err
	}
	cc := *c
	cc.Transport = p.Transport(c.Transport)
	return &cc, p, nil
}

// showUserinfo checks that the tokens are DPoP-bound and calls the userinfo endpoint with the access
// token as a DPoP token (Authorization: DPoP, and a proof carrying its hash: RFC 9449 §7.1), printing
// what it answers.
func showUserinfo(ctx context.Context, client *http.Client, endpoint string, tok *tokenResponse, stdout io.Writer) error {
	if !strings.EqualFold(tok.TokenType, dpop.TokenType) {
		return &failure{msg: fmt.Sprintf("The server answered token_type %q, not DPoP: it did not bind the token to this client's key (it may not support DPoP).", tok.TokenType)}
	}
	if endpoint == "" {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", dpop.TokenType+" "+tok.AccessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBytes))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		e := &oauthErr{Status: resp.StatusCode}
		_ = json.Unmarshal(body, e)
		return &failure{code: e.Code, msg: fmt.Sprintf("The userinfo endpoint refused the DPoP-bound token (%s): %s", resp.Status, e.Description)}
	}
	var claims map[string]any
	if err := json.Unmarshal(body, &claims); err != nil {
		return &failure{msg: "The userinfo endpoint's answer is not JSON.", err: err}
	}
	fmt.Fprintln(stdout, "\nThe token is bound to this client's key (DPoP). Userinfo, called with it and a proof:")
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(claims)
}
