package secevent_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/go-jose/go-jose/v3"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/outbox"
	"github.com/fosite-contrib/grants/secevent"
	"github.com/fosite-contrib/grants/storage/memory"
)

// Example announces an abused device grant to one resource server (here a local test server, which
// only development mode may reach) and shows what the resource server receives and checks.
func Example() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	// The resource server's SET endpoint: verify, then answer 202 Accepted (RFC 8935 section 2.2).
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		jws, err := jose.ParseSigned(string(body))
		if err != nil {
			http.Error(w, `{"err":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		payload, err := jws.Verify(&key.PublicKey) // in real life: the issuer's JWKS, by "kid"
		if err != nil {
			http.Error(w, `{"err":"invalid_key"}`, http.StatusBadRequest)
			return
		}
		var set struct {
			Aud    string                           `json:"aud"`
			Events map[string]secevent.GrantRevoked `json:"events"`
		}
		_ = json.Unmarshal(payload, &set)
		e := set.Events[secevent.EventGrantRevoked]
		fmt.Println(r.Header.Get("Content-Type"), jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType], set.Aud)
		fmt.Printf("drop what was cached for request %s (client %s): %s\n", e.RequestID, e.ClientID, e.Reason)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer api.Close()

	store := memory.New()
	sealer, err := outbox.NewSealer([]byte("fosite's global secret, 32 bytes"))
	if err != nil {
		log.Fatal(err)
	}
	tr, err := secevent.New(secevent.Options{
		Issuer:        "https://id.example.com",
		Key:           jose.SigningKey{Algorithm: jose.ES256, Key: key},
		Receivers:     []secevent.Receiver{{URL: api.URL + "/set", Audience: "https://api.example.com"}},
		Queue:         &outbox.Queue{Storage: store, Sealer: sealer},
		AllowLoopback: true, // DEMO: the receiver is on this machine
	})
	if err != nil {
		log.Fatal(err)
	}

	// The grant's policy calls Announce in the transaction that ends the grant.
	err = tr.Announce(context.Background(), pending.Remediation{
		Kind: pending.KindDeviceCode, RequestID: "req-42", ClientID: "tv-app", Subject: "alice",
		Reason: pending.ReasonReported, Time: time.Now(), TokensRevoked: true,
	})
	if err != nil {
		log.Fatal(err)
	}

	// The outbox worker delivers it.
	worker := &outbox.Worker{Storage: store, Sealer: sealer,
		Deliverer: outbox.NewWebhook(outbox.WebhookConfig{AllowLoopback: true})}
	n, err := worker.DrainOnce(context.Background())
	fmt.Println("attempts:", n, err)
	// Output:
	// application/secevent+jwt secevent+jwt https://api.example.com
	// drop what was cached for request req-42 (client tv-app): reported
	// attempts: 1 <nil>
}
