package clientauth

import (
	"context"
	"fmt"
	"testing"

	"github.com/ory/fosite"
)

// BenchmarkCompareBcrypt is the cost fosite pays per token request without
// the cache.
func BenchmarkCompareBcrypt(b *testing.B) {
	for _, cost := range []int{10, 12} {
		b.Run(fmt.Sprintf("cost=%d", cost), func(b *testing.B) {
			h := &fosite.BCrypt{Config: &fosite.Config{HashCost: cost}}
			ctx := context.Background()
			stored, err := h.Hash(ctx, []byte("client-secret"))
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if err := h.Compare(ctx, stored, []byte("client-secret")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCompareCached is the cost per request of a client that already
// authenticated within the TTL.
func BenchmarkCompareCached(b *testing.B) {
	for _, cost := range []int{10, 12} {
		b.Run(fmt.Sprintf("cost=%d", cost), func(b *testing.B) {
			h := &CachingHasher{Hasher: &fosite.BCrypt{Config: &fosite.Config{HashCost: cost}}}
			ctx := context.Background()
			stored, err := h.Hash(ctx, []byte("client-secret"))
			if err != nil {
				b.Fatal(err)
			}
			if err := h.Compare(ctx, stored, []byte("client-secret")); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if err := h.Compare(ctx, stored, []byte("client-secret")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
