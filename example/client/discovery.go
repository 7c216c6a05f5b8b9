package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// metadata is the part of the OpenID Provider Metadata (OpenID Connect
// Discovery 1.0 §3) and RFC 8628 §4 that the client reads.
type metadata struct {
	Issuer                      string `json:"issuer"`
	TokenEndpoint               string `json:"token_endpoint"`
	DeviceAuthorizationEndpoint string `json:"device_authorization_endpoint"`
	UserinfoEndpoint            string `json:"userinfo_endpoint"`
}

// maxMetadataBytes bounds how much of a discovery document is read.
const maxMetadataBytes = 1 << 20

// discover fetches <issuer>/.well-known/openid-configuration.
func discover(ctx context.Context, client *http.Client, issuer string) (*metadata, error) {
	issuer = strings.TrimSuffix(issuer, "/")
	u := issuer + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("discovery: bad issuer URL %q: %w", issuer, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, unreachable(issuer, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBytes))
	if err != nil {
		return nil, fmt.Errorf("discovery: reading %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &failure{msg: fmt.Sprintf("The server at %s has no discovery document (GET %s answered %s); check -issuer.", issuer, u, resp.Status)}
	}
	var md metadata
	if err := json.Unmarshal(body, &md); err != nil {
		return nil, &failure{msg: fmt.Sprintf("The discovery document at %s is not JSON; check -issuer.", u), err: err}
	}
	// OpenID Connect Discovery 1.0 §4.3: the issuer value returned MUST be
	// identical to the Issuer URL that was used to retrieve the configuration.
	if strings.TrimSuffix(md.Issuer, "/") != issuer {
		return nil, &failure{msg: fmt.Sprintf("The server calls itself %q, not %q; pass -issuer %s.", md.Issuer, issuer, md.Issuer)}
	}
	if md.TokenEndpoint == "" {
		return nil, &failure{msg: fmt.Sprintf("The discovery document at %s names no token_endpoint; this server cannot issue tokens to this client.", u)}
	}
	return &md, nil
}
