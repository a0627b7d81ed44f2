package keyring_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/dbesdk"
	"github.com/ddbec/ddbec-go/keyring"
)

const (
	verA = "e9ce18a3-edb5-4272-9f86-1cacb7997ff6"
	verB = "0f3a8c42-1b2d-4e5f-8a9b-0c1d2e3f4a5b"
)

// countingSource is a BranchKeySource that counts its calls per entry and
// can block, fail or answer slowly.
type countingSource struct {
	mu    sync.Mutex
	calls map[string]int
	// gate, when not nil, is waited on by every call (closed to release).
	gate    chan struct{}
	started chan struct{} // receives one value per call started, if not nil
	fail    atomic.Pointer[error]
	active  string // active version
}

func newCountingSource() *countingSource {
	return &countingSource{calls: map[string]int{}, active: verA}
}

func (s *countingSource) do(ctx context.Context, name, id, version string) (keyring.BranchKey, error) {
	s.mu.Lock()
	s.calls[name]++
	s.mu.Unlock()
	if s.started != nil {
		s.started <- struct{}{}
	}
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return keyring.BranchKey{}, ctx.Err()
		}
	}
	if err := s.fail.Load(); err != nil {
		return keyring.BranchKey{}, *err
	}
	k := bytes.Repeat([]byte{byte(len(id) + int(version[0]))}, 32)
	return keyring.BranchKey{ID: id, Version: version, Key: k}, nil
}

func (s *countingSource) ActiveBranchKey(ctx context.Context, id string) (keyring.BranchKey, error) {
	return s.do(ctx, "active:"+id, id, s.active)
}

func (s *countingSource) BranchKeyVersion(ctx context.Context, id, version string) (keyring.BranchKey, error) {
	return s.do(ctx, "version:"+id+":"+version, id, version)
}

func (s *countingSource) count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[name]
}

// fakeClock is a manual clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newCache(t *testing.T, src keyring.BranchKeySource, opts keyring.BranchKeyCacheOptions) *keyring.BranchKeyCache {
	t.Helper()
	c, err := keyring.NewBranchKeyCache(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBranchKeyCacheConfig(t *testing.T) {
	src := newCountingSource()
	for name, tc := range map[string]struct {
		src  keyring.BranchKeySource
		opts keyring.BranchKeyCacheOptions
	}{
		"no source":         {nil, keyring.BranchKeyCacheOptions{TTL: time.Minute}},
		"zero TTL":          {src, keyring.BranchKeyCacheOptions{}},
		"negative TTL":      {src, keyring.BranchKeyCacheOptions{TTL: -time.Second}},
		"negative capacity": {src, keyring.BranchKeyCacheOptions{TTL: time.Minute, Capacity: -1}},
	} {
		if _, err := keyring.NewBranchKeyCache(tc.src, tc.opts); !errors.Is(err, ddbenc.ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestBranchKeyCacheTTL(t *testing.T) {
	ctx := context.Background()
	src := newCountingSource()
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := newCache(t, src, keyring.BranchKeyCacheOptions{TTL: time.Minute, Now: clock.Now})

	for range 3 {
		if _, err := c.ActiveBranchKey(ctx, "b1"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.BranchKeyVersion(ctx, "b1", verA); err != nil {
			t.Fatal(err)
		}
	}
	if n := src.count("active:b1"); n != 1 {
		t.Errorf("active loads = %d, want 1", n)
	}
	// Active and version entries are separate.
	if n := src.count("version:b1:" + verA); n != 1 {
		t.Errorf("version loads = %d, want 1", n)
	}
	// Exactly at the TTL the entry is still used (now − created ≤ TTL).
	clock.Advance(time.Minute)
	c.ActiveBranchKey(ctx, "b1")
	if n := src.count("active:b1"); n != 1 {
		t.Errorf("at the TTL: active loads = %d, want 1", n)
	}
	// Past it, the source is read again and the entry replaced.
	clock.Advance(time.Nanosecond)
	src.active = verB
	bk, err := c.ActiveBranchKey(ctx, "b1")
	if err != nil {
		t.Fatal(err)
	}
	if n := src.count("active:b1"); n != 2 || bk.Version != verB {
		t.Errorf("past the TTL: active loads = %d, version %s; want 2, %s", n, bk.Version, verB)
	}
	c.ActiveBranchKey(ctx, "b1")
	if n := src.count("active:b1"); n != 2 {
		t.Errorf("after reload: active loads = %d, want 2", n)
	}
	if c.Len() != 2 {
		t.Errorf("Len = %d, want 2", c.Len())
	}
}

func TestBranchKeyCacheCapacity(t *testing.T) {
	ctx := context.Background()
	src := newCountingSource()
	c := newCache(t, src, keyring.BranchKeyCacheOptions{TTL: time.Hour, Capacity: 2})
	get := func(id string) {
		t.Helper()
		if _, err := c.ActiveBranchKey(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	get("a")
	get("b")
	get("a") // a is now the most recently used
	get("c") // evicts b
	if c.Len() != 2 {
		t.Errorf("Len = %d, want 2", c.Len())
	}
	get("a")
	if n := src.count("active:a"); n != 1 {
		t.Errorf("a loaded %d times, want 1 (it was recently used)", n)
	}
	get("b")
	if n := src.count("active:b"); n != 2 {
		t.Errorf("b loaded %d times, want 2 (it was evicted)", n)
	}
	// Default capacity.
	d := newCache(t, src, keyring.BranchKeyCacheOptions{TTL: time.Hour})
	for i := range keyring.DefaultBranchKeyCacheCapacity + 10 {
		if _, err := d.ActiveBranchKey(ctx, fmt.Sprint("k", i)); err != nil {
			t.Fatal(err)
		}
	}
	if d.Len() != keyring.DefaultBranchKeyCacheCapacity {
		t.Errorf("default capacity: Len = %d, want %d", d.Len(), keyring.DefaultBranchKeyCacheCapacity)
	}
}

func TestBranchKeyCacheOneLoadInFlight(t *testing.T) {
	ctx := context.Background()
	src := newCountingSource()
	src.gate = make(chan struct{})
	src.started = make(chan struct{}, 100)
	c := newCache(t, src, keyring.BranchKeyCacheOptions{TTL: time.Hour})
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := c.BranchKeyVersion(ctx, "b1", verA)
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := c.BranchKeyVersion(ctx, "b1", verB)
			errs <- err
		}()
	}
	// Both loads started; nobody else may start one while they block.
	<-src.started
	<-src.started
	time.Sleep(50 * time.Millisecond)
	close(src.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []string{verA, verB} {
		if got := src.count("version:b1:" + v); got != 1 {
			t.Errorf("version %s loaded %d times by %d concurrent callers, want 1", v, got, n)
		}
	}
}

func TestBranchKeyCacheWaiterContext(t *testing.T) {
	src := newCountingSource()
	src.gate = make(chan struct{})
	src.started = make(chan struct{}, 10)
	c := newCache(t, src, keyring.BranchKeyCacheOptions{TTL: time.Hour})
	leader := make(chan error, 1)
	go func() {
		_, err := c.ActiveBranchKey(context.Background(), "b1")
		leader <- err
	}()
	<-src.started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := c.ActiveBranchKey(ctx, "b1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiter: %v, want context.DeadlineExceeded", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("waiter did not honour its context")
	}
	close(src.gate)
	if err := <-leader; err != nil {
		t.Fatalf("leader: %v", err)
	}
	if n := src.count("active:b1"); n != 1 {
		t.Errorf("loads = %d, want 1", n)
	}

	// A leader whose context ends does not fail a live waiter: it loads
	// itself.
	src2 := newCountingSource()
	src2.gate = make(chan struct{})
	src2.started = make(chan struct{}, 10)
	c2 := newCache(t, src2, keyring.BranchKeyCacheOptions{TTL: time.Hour})
	lctx, lcancel := context.WithCancel(context.Background())
	go c2.ActiveBranchKey(lctx, "b1")
	<-src2.started
	waiter := make(chan error, 1)
	go func() {
		_, err := c2.ActiveBranchKey(context.Background(), "b1")
		waiter <- err
	}()
	time.Sleep(20 * time.Millisecond)
	lcancel()
	<-src2.started // the waiter's own load
	close(src2.gate)
	if err := <-waiter; err != nil {
		t.Errorf("waiter after the leader's cancellation: %v", err)
	}
	if n := src2.count("active:b1"); n != 2 {
		t.Errorf("loads = %d, want 2", n)
	}
}

func TestBranchKeyCacheErrorsNotCached(t *testing.T) {
	ctx := context.Background()
	src := newCountingSource()
	boom := errors.New("key store unavailable")
	src.fail.Store(&boom)
	c := newCache(t, src, keyring.BranchKeyCacheOptions{TTL: time.Hour})
	for range 2 {
		if _, err := c.ActiveBranchKey(ctx, "b1"); !errors.Is(err, boom) {
			t.Fatalf("%v, want the source's error", err)
		}
	}
	if n := src.count("active:b1"); n != 2 {
		t.Errorf("failed loads = %d, want 2 (errors are not cached)", n)
	}
	if c.Len() != 0 {
		t.Errorf("Len = %d after failures, want 0", c.Len())
	}
	src.fail.Store(nil)
	if _, err := c.ActiveBranchKey(ctx, "b1"); err != nil {
		t.Fatal(err)
	}
	if n := src.count("active:b1"); n != 3 {
		t.Errorf("loads = %d, want 3", n)
	}
}

func TestBranchKeyCacheClonesKeys(t *testing.T) {
	ctx := context.Background()
	src := newCountingSource()
	c := newCache(t, src, keyring.BranchKeyCacheOptions{TTL: time.Hour})
	a, err := c.ActiveBranchKey(ctx, "b1")
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(a.Key)
	clear(a.Key)
	b, err := c.ActiveBranchKey(ctx, "b1")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Key, want) {
		t.Error("a caller's change to a returned key changed the cache")
	}
}

// TestHierarchicalCacheRoundTrip: the hierarchical keyring over the cache
// encrypts and decrypts, with one source call per entry.
func TestHierarchicalCacheRoundTrip(t *testing.T) {
	src := newCountingSource()
	c := newCache(t, src, keyring.BranchKeyCacheOptions{TTL: time.Hour})
	kr := must[*keyring.Hierarchical](t)(keyring.NewHierarchical("b1", c))
	for range 5 {
		decryptWith(t, kr, encryptWith(t, kr))
	}
	if a, v := src.count("active:b1"), src.count("version:b1:"+verA); a != 1 || v != 1 {
		t.Errorf("source calls: active %d, version %d; want 1, 1", a, v)
	}
}

func TestHierarchicalSupplier(t *testing.T) {
	keys := keyring.NewStaticBranchKeys(
		keyring.BranchKey{ID: "tenant-p1", Version: verA, Key: bytes.Repeat([]byte{1}, 32)},
		keyring.BranchKey{ID: "tenant-p2", Version: verB, Key: bytes.Repeat([]byte{2}, 32)},
	)
	var calls atomic.Int64
	supplier := func(_ context.Context, ec map[string]string) (string, error) {
		if ec["aws-crypto-partition-name"] != "pk" || ec["aws-crypto-table-name"] != "T" {
			return "", errors.New("not the full encryption context")
		}
		raw, err := base64.StdEncoding.DecodeString(ec["aws-crypto-attr.pk"])
		if err != nil || len(raw) < 2 {
			return "", errors.New("no partition key value")
		}
		calls.Add(1)
		return "tenant-" + string(raw[2:]), nil // type id (2 bytes) || value
	}
	kr := must[*keyring.Hierarchical](t)(keyring.NewHierarchicalWithSupplier(supplier, keys))
	stored := encryptWith(t, kr)
	if head := stored[dbesdk.HeadAttribute].(*types.AttributeValueMemberB).Value; !bytes.Contains(head, []byte("tenant-p1")) {
		t.Error("the EDK does not name branch key tenant-p1")
	}
	decryptWith(t, kr, stored)
	if n := calls.Load(); n != 2 {
		t.Errorf("supplier called %d times, want 2 (encrypt and decrypt)", n)
	}
	// A keyring fixed on the other tenant's key cannot read it.
	other := must[*keyring.Hierarchical](t)(keyring.NewHierarchical("tenant-p2", keys))
	if err := decryptErr(t, other, stored); !errors.Is(err, ddbenc.ErrWrongKey) {
		t.Errorf("other tenant: %v, want ErrWrongKey", err)
	}
	// A supplier error fails both directions.
	failing := must[*keyring.Hierarchical](t)(keyring.NewHierarchicalWithSupplier(func(context.Context, map[string]string) (string, error) {
		return "", errors.New("no tenant")
	}, keys))
	if _, err := newEncryptor(t, failing).EncryptItem(context.Background(), testItem()); err == nil {
		t.Error("encrypt with a failing supplier succeeded")
	}
	if err := decryptErr(t, failing, stored); err == nil {
		t.Error("decrypt with a failing supplier succeeded")
	}
	empty := must[*keyring.Hierarchical](t)(keyring.NewHierarchicalWithSupplier(func(context.Context, map[string]string) (string, error) {
		return "", nil
	}, keys))
	if _, err := newEncryptor(t, empty).EncryptItem(context.Background(), testItem()); !errors.Is(err, ddbenc.ErrInvalidConfig) {
		t.Errorf("empty id: %v, want ErrInvalidConfig", err)
	}
	if _, err := keyring.NewHierarchicalWithSupplier(nil, keys); !errors.Is(err, ddbenc.ErrInvalidConfig) {
		t.Errorf("nil supplier: %v", err)
	}
}
