package outbox_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/fosite-contrib/grants/outbox"
	"github.com/fosite-contrib/grants/storage/memory"
)

// Example queues a CIBA ping callback and delivers it to a client's endpoint (here a local test
// server, which only development mode may reach).
func Example() {
	client := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("client received:", r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer client.Close()

	store := memory.New()
	sealer, err := outbox.NewSealer([]byte("fosite's global secret, 32 bytes"))
	if err != nil {
		panic(err)
	}
	queue := &outbox.Queue{Storage: store, Sealer: sealer}
	ctx := context.Background()
	err = queue.Enqueue(ctx, outbox.WebhookMessage("ciba.ping:req-1", outbox.KindCIBAPing,
		client.URL+"/cb", "client-notification-token", []byte(`{"auth_req_id":"req-1"}`)))
	if err != nil {
		panic(err)
	}

	worker := &outbox.Worker{
		Storage:   store,
		Sealer:    sealer,
		Deliverer: outbox.NewWebhook(outbox.WebhookConfig{AllowLoopback: true, Timeout: 5 * time.Second}),
	}
	n, err := worker.DrainOnce(ctx)
	fmt.Println("attempts:", n, err)
	r, _ := store.GetOutbox(ctx, "ciba.ping:req-1")
	fmt.Println("state:", r.State)
	// Output:
	// client received: Bearer client-notification-token
	// attempts: 1 <nil>
	// state: delivered
}

// ExampleValidateTarget checks callback URLs as a client registers them.
func ExampleValidateTarget() {
	for _, u := range []string{
		"https://client.example/cb",
		"http://client.example/cb",
		"https://169.254.169.254/latest/meta-data",
		"http://127.0.0.1:8080/cb",
	} {
		fmt.Println(u, "→", outbox.ValidateTarget(u, false))
	}
	// Output:
	// https://client.example/cb → <nil>
	// http://client.example/cb → outbound: forbidden destination: the scheme must be https
	// https://169.254.169.254/latest/meta-data → outbound: forbidden destination: 169.254.169.254 is a link-local address
	// http://127.0.0.1:8080/cb → outbound: forbidden destination: the scheme must be https
}
