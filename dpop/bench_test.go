package dpop_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"

	"github.com/fosite-contrib/grants/dpop"
	"github.com/fosite-contrib/grants/storage/memory"
)

// BenchmarkVerify measures what a proof costs the server: parsing, the signature check and the replay
// record in the memory store, per algorithm. Proofs are made before the timer starts.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []jose.SignatureAlgorithm{jose.ES256, jose.PS256, jose.EdDSA} {
		b.Run(string(alg), func(b *testing.B) {
			now := time.Now()
			v, err := dpop.NewVerifier(memory.New(), nil, dpop.Options{Now: func() time.Time { return now }})
			if err != nil {
				b.Fatal(err)
			}
			p := newProver(b, alg)
			proofs := make([]string, b.N)
			for i := range proofs {
				proofs[i] = p.proof(http.MethodPost, tokenURL, now)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := v.Verify(context.Background(), proofs[i], post); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
