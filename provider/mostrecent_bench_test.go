package provider_test

import (
	"context"
	"testing"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/legacy"
)

// BenchmarkMostRecentCachedParallel is the most-recent provider's own cost
// of a cache hit (version lookup only, no cryptography), from all
// GOMAXPROCS goroutines at once. "WhileMissHeld" runs with a load of
// another version held in the store the whole time: hits do not wait for it.
func BenchmarkMostRecentCachedParallel(b *testing.B) {
	for _, held := range []bool{false, true} {
		name := "Hit"
		if held {
			name = "HitWhileMissHeld"
		}
		b.Run(name, func(b *testing.B) {
			s := newGatedStore(1, 7)
			s.started, s.released = make(chan int64, 2), make(chan error, 2)
			mr, _ := newMR(b, s)
			ec := ddbenc.EncryptionContext{MaterialDescription: map[string]string{legacy.MetaID: "m#1"}}
			if _, err := mr.DecryptionMaterials(context.Background(), ec); err != nil {
				b.Fatal(err)
			}
			<-s.started
			if held {
				gate := make(chan struct{})
				s.mu.Lock()
				s.gates[7] = gate
				s.mu.Unlock()
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				go mr.DecryptionMaterials(ctx, ddbenc.EncryptionContext{MaterialDescription: map[string]string{legacy.MetaID: "m#7"}})
				<-s.started // the load of 7 is in the store
				defer close(gate)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if _, err := mr.DecryptionMaterials(ctx, ec); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
