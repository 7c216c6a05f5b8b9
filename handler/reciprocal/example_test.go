package reciprocal_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/ory/fosite"
	"golang.org/x/oauth2"

	"github.com/fosite-contrib/grants/handler/reciprocal"
)

// Party B seals a partner's token for one user; only that (partner, user) row opens it.
func ExampleVault() {
	v, err := reciprocal.NewVault(bytes.Repeat([]byte{7}, 32)) // fosite's GlobalSecret in a real server
	if err != nil {
		panic(err)
	}
	sealed, _ := v.Seal(&oauth2.Token{AccessToken: "token-from-party-A"}, "voice-assistant", "alice")
	tok, _ := v.Open(sealed, "voice-assistant", "alice")
	_, err = v.Open(sealed, "voice-assistant", "bob")
	fmt.Println(tok.AccessToken)
	fmt.Println(err)
	// Output:
	// token-from-party-A
	// reciprocal: the stored token cannot be opened with the configured secrets
}

// Party B's partners: for each client that is a party A, where and how to redeem its codes.
func ExamplePartnerMap() {
	partners := reciprocal.PartnerMap{
		"voice-assistant": {TokenURL: "https://assistant.example/oauth2/token", ClientID: "music-service", ClientSecret: "…"},
	}
	p, err := partners.ReciprocalPartner(context.Background(), "voice-assistant")
	fmt.Println(p.TokenURL, err)
	_, err = partners.ReciprocalPartner(context.Background(), "someone-else")
	fmt.Println(errors.Is(err, fosite.ErrNotFound))
	// Output:
	// https://assistant.example/oauth2/token <nil>
	// true
}

// The parameters of a reciprocal grant request (draft §2.2.2).
func ExampleParseGrantRequest() {
	form, _ := url.ParseQuery("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Areciprocal&code=c0de&client_id=voice-assistant&access_token=at")
	gr, err := reciprocal.ParseGrantRequest(form)
	fmt.Println(gr.Code, gr.ClientID, gr.AccessToken, err)
	// Output: c0de voice-assistant at <nil>
}
