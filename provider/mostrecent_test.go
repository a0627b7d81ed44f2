package provider_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/fakekms"
	"github.com/ddbec/ddbec-go/internal/legacy"
	"github.com/ddbec/ddbec-go/provider"
	"github.com/ddbec/ddbec-go/signing"
)

// countingStore keeps versions in memory and counts store calls.
type countingStore struct {
	mu       sync.Mutex
	versions map[int64]ddbenc.MaterialsProvider
	loads    int
	maxCalls int
}

func (s *countingStore) make(v int64) ddbenc.MaterialsProvider {
	kek, _ := provider.AESWrappingKey(bytes.Repeat([]byte{byte(v + 1)}, 32))
	mac, _ := signing.NewHMAC("HmacSHA256", bytes.Repeat([]byte{byte(v + 9)}, 32))
	p, _ := provider.NewWrapped(kek, mac, nil, func(o *provider.WrappedOptions) {
		o.MaterialDescription = map[string]string{legacy.MetaID: fmt.Sprintf("m#%d", v)}
	})
	return p
}

func (s *countingStore) Provider(_ context.Context, _ string, v int64) (ddbenc.MaterialsProvider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads++
	p, ok := s.versions[v]
	if !ok {
		return nil, fmt.Errorf("%w: no version %d", ddbenc.ErrWrongKey, v)
	}
	return p, nil
}

func (s *countingStore) MaxVersion(context.Context, string) (int64, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxCalls++
	max, ok := int64(-1), false
	for v := range s.versions {
		if v > max {
			max, ok = v, true
		}
	}
	return max, ok, nil
}

func (s *countingStore) GetOrCreate(_ context.Context, _ string, v int64) (ddbenc.MaterialsProvider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.versions[v]; ok {
		return p, nil
	}
	s.versions[v] = s.make(v)
	return s.versions[v], nil
}

func TestMostRecentCachesAndRotates(t *testing.T) {
	ctx := context.Background()
	store := &countingStore{versions: map[int64]ddbenc.MaterialsProvider{}}
	clock := fakekms.NewClock()
	mr, err := provider.NewMostRecent(store, "m", func(o *provider.MostRecentOptions) { o.TTL = time.Minute; o.CacheSize = 2; o.Now = clock.Now })
	if err != nil {
		t.Fatal(err)
	}
	metaID := func() string {
		m, err := mr.EncryptionMaterials(ctx, ddbenc.EncryptionContext{})
		if err != nil {
			t.Fatal(err)
		}
		return m.MaterialDescription[legacy.MetaID]
	}
	if id := metaID(); id != "m#0" {
		t.Fatalf("first write uses %q, want m#0 (created)", id)
	}
	for range 100 {
		metaID()
	}
	if store.maxCalls != 1 {
		t.Errorf("%d MaxVersion calls within the TTL, want 1", store.maxCalls)
	}
	clock.Advance(2 * time.Minute)
	metaID()
	if store.maxCalls != 2 {
		t.Errorf("after the TTL: %d MaxVersion calls, want 2", store.maxCalls)
	}
	if v, err := mr.Rotate(ctx); err != nil || v != 1 || metaID() != "m#1" {
		t.Fatalf("Rotate = %d, %v", v, err)
	}
	// Reading: versions come from the cache (LRU of 2), else the store.
	read := func(id string) error {
		_, err := mr.DecryptionMaterials(ctx, ddbenc.EncryptionContext{MaterialDescription: map[string]string{legacy.MetaID: id}})
		return err
	}
	store.GetOrCreate(ctx, "m", 2)
	loads := store.loads
	for _, id := range []string{"m#0", "other-name#1", "m#2", "m#0"} {
		// Wrapped materials need an envelope key; "no wrapped key" proves
		// the version's provider was reached.
		if err := read(id); !errors.Is(err, ddbenc.ErrWrongKey) {
			t.Fatalf("read %s: %v", id, err)
		}
	}
	if got := store.loads - loads; got != 2 {
		t.Errorf("store loads for 0,1,2,0 with an LRU of 2 holding 0 and 1: %d, want 2 (2, then 0 again)", got)
	}
	for id, want := range map[string]error{"": ddbenc.ErrMalformed, "m#x": ddbenc.ErrMalformed, "m#-1": ddbenc.ErrMalformed, "m#7": ddbenc.ErrWrongKey} {
		if err := read(id); !errors.Is(err, want) {
			t.Errorf("meta id %q: %v, want %v", id, err, want)
		}
	}
	if _, err := mr.DecryptionMaterials(ctx, ddbenc.EncryptionContext{MaterialDescription: map[string]string{}}); !errors.Is(err, ddbenc.ErrWrongKey) {
		t.Errorf("no meta id: %v", err)
	}
	for name, fn := range map[string]func() error{
		"nil store":  func() error { _, err := provider.NewMostRecent(nil, "m"); return err },
		"empty name": func() error { _, err := provider.NewMostRecent(store, ""); return err },
		"# in name":  func() error { _, err := provider.NewMostRecent(store, "a#b"); return err },
		"zero TTL": func() error {
			_, err := provider.NewMostRecent(store, "m", func(o *provider.MostRecentOptions) { o.TTL = 0 })
			return err
		},
	} {
		if err := fn(); !errors.Is(err, ddbenc.ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
