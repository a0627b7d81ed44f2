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
	"github.com/ddbec/ddbec-go/ddbenctest"
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
	clock := ddbenctest.NewClock()
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
		"negative NegativeTTL": func() error {
			_, err := provider.NewMostRecent(store, "m", func(o *provider.MostRecentOptions) { o.NegativeTTL = -time.Second })
			return err
		},
	} {
		if err := fn(); !errors.Is(err, ddbenc.ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// deadlockGuard bounds how long a test waits for something that a correct
// provider does at once (a cache hit, a waiter's return). It is not a timing
// assertion: it only turns a deadlock of a broken provider into a failure
// instead of a hung test binary.
const deadlockGuard = 10 * time.Second

// await fails the test if ch does not deliver within deadlockGuard.
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(deadlockGuard):
		t.Fatalf("%s: still blocked (the provider is waiting behind a store call)", what)
		panic("unreachable")
	}
}

// tagged is the materials of one store load: its keys are (version, load
// number), so a test can tell which load a caller's materials came from.
type tagged struct{ v, load int64 }

func (p tagged) key() []byte { return []byte{byte(p.v), byte(p.load)} }

func (p tagged) EncryptionMaterials(context.Context, ddbenc.EncryptionContext) (*ddbenc.EncryptionMaterials, error) {
	return &ddbenc.EncryptionMaterials{EncryptionKey: p.key(), MaterialDescription: map[string]string{legacy.MetaID: fmt.Sprintf("m#%d", p.v)}}, nil
}

func (p tagged) DecryptionMaterials(context.Context, ddbenc.EncryptionContext) (*ddbenc.DecryptionMaterials, error) {
	return &ddbenc.DecryptionMaterials{DecryptionKey: p.key()}, nil
}

// gatedStore is an in-memory MaterialStore whose calls can be held at gates
// and which counts them.
type gatedStore struct {
	mu       sync.Mutex
	versions map[int64]bool
	gates    map[int64]chan struct{} // Provider(v) waits until closed
	maxGate  chan struct{}           // the next MaxVersion call waits until closed
	maxHeld  chan struct{}           // signalled when a MaxVersion call takes maxGate
	fail     map[int64]error         // Provider(v) returns this error
	panics   map[int64]bool          // Provider(v) panics
	loads    map[int64]int64
	maxCalls int
	started  chan int64 // every Provider call sends its version here
	released chan error // a held Provider call sends its ctx.Err() when it goes on
}

func newGatedStore(versions ...int64) *gatedStore {
	s := &gatedStore{
		versions: map[int64]bool{}, gates: map[int64]chan struct{}{}, fail: map[int64]error{}, panics: map[int64]bool{},
		loads: map[int64]int64{}, started: make(chan int64, 100), released: make(chan error, 100),
		maxHeld: make(chan struct{}, 100),
	}
	for _, v := range versions {
		s.versions[v] = true
	}
	return s
}

// hold makes Provider(v) wait until the returned function is called (also
// called at cleanup).
func (s *gatedStore) hold(t *testing.T, v int64) (release func()) {
	gate := make(chan struct{})
	s.mu.Lock()
	s.gates[v] = gate
	s.mu.Unlock()
	var once sync.Once
	release = func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.gates, v)
			s.mu.Unlock()
			close(gate)
		})
	}
	t.Cleanup(release)
	return release
}

func (s *gatedStore) loadCount(v int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loads[v]
}

func (s *gatedStore) maxCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxCalls
}

func (s *gatedStore) Provider(ctx context.Context, _ string, v int64) (ddbenc.MaterialsProvider, error) {
	s.mu.Lock()
	s.loads[v]++
	n, gate, exists, ferr, panics := s.loads[v], s.gates[v], s.versions[v], s.fail[v], s.panics[v]
	s.mu.Unlock()
	s.started <- v
	if gate != nil {
		select {
		case <-gate:
			s.released <- ctx.Err()
		case <-ctx.Done():
			s.released <- ctx.Err()
			return nil, ctx.Err()
		}
	}
	switch {
	case panics:
		panic("store panic")
	case ferr != nil:
		return nil, ferr
	case !exists:
		return nil, fmt.Errorf("%w: no version %d", ddbenc.ErrWrongKey, v)
	}
	return tagged{v, n}, nil
}

func (s *gatedStore) MaxVersion(ctx context.Context, _ string) (int64, bool, error) {
	s.mu.Lock()
	s.maxCalls++
	max, ok := int64(-1), false
	for v := range s.versions {
		if v > max {
			max, ok = v, true
		}
	}
	gate := s.maxGate
	s.maxGate = nil
	s.mu.Unlock()
	if gate != nil { // answers what was newest when it was asked
		s.maxHeld <- struct{}{}
		select {
		case <-gate:
		case <-ctx.Done():
			return 0, false, ctx.Err()
		}
	}
	return max, ok, nil
}

func (s *gatedStore) GetOrCreate(_ context.Context, _ string, v int64) (ddbenc.MaterialsProvider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.versions[v] = true
	return tagged{v, 0}, nil
}

// joinCtx reports on joined when a caller first waits on its Done channel,
// that is, when the caller has joined a shared load and is blocked in it.
type joinCtx struct {
	context.Context
	once   sync.Once
	joined chan<- struct{}
}

func (c *joinCtx) Done() <-chan struct{} {
	c.once.Do(func() { c.joined <- struct{}{} })
	return c.Context.Done()
}

type result struct {
	key []byte
	err error
}

func newMR(t testing.TB, s provider.MaterialStore, optFns ...func(*provider.MostRecentOptions)) (*provider.MostRecent, *ddbenctest.Clock) {
	t.Helper()
	clock := ddbenctest.NewClock()
	mr, err := provider.NewMostRecent(s, "m", append([]func(*provider.MostRecentOptions){func(o *provider.MostRecentOptions) {
		o.TTL, o.Now = time.Minute, clock.Now
	}}, optFns...)...)
	if err != nil {
		t.Fatal(err)
	}
	return mr, clock
}

func decryptKey(ctx context.Context, mr *provider.MostRecent, v int64) result {
	m, err := mr.DecryptionMaterials(ctx, ddbenc.EncryptionContext{MaterialDescription: map[string]string{legacy.MetaID: fmt.Sprintf("m#%d", v)}})
	if err != nil {
		return result{err: err}
	}
	return result{key: m.DecryptionKey}
}

func encryptKey(ctx context.Context, mr *provider.MostRecent) result {
	m, err := mr.EncryptionMaterials(ctx, ddbenc.EncryptionContext{})
	if err != nil {
		return result{err: err}
	}
	return result{key: m.EncryptionKey}
}

// startWaiters runs n calls of fn, each with its own context, and returns
// once all of them are blocked waiting.
func startWaiters(t *testing.T, n int, fn func(ctx context.Context) result) ([]context.CancelFunc, <-chan result) {
	t.Helper()
	joined, results := make(chan struct{}, n), make(chan result, n)
	cancels := make([]context.CancelFunc, n)
	for i := range n {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		cancels[i] = cancel
		jctx := &joinCtx{Context: ctx, joined: joined}
		go func() { results <- fn(jctx) }()
	}
	for i := range n {
		await(t, joined, fmt.Sprintf("waiter %d of %d joining the shared load", i+1, n))
	}
	return cancels, results
}

// TestMostRecentHitsDoNotWaitForMisses holds a store call and checks that
// cached versions are served meanwhile, and that the held call's waiters all
// get the result of that one call.
func TestMostRecentHitsDoNotWaitForMisses(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// hold holds a store call and returns the miss to start and what
		// the waiters must get.
		hold func(t *testing.T, s *gatedStore, clock *ddbenctest.Clock, mr *provider.MostRecent) (miss func(context.Context) result, want []byte, release func())
		// wantLoads and wantMax are the store calls after the test.
		wantLoads map[int64]int64
		wantMax   int
	}{{
		name: "load of an uncached version",
		hold: func(t *testing.T, s *gatedStore, _ *ddbenctest.Clock, mr *provider.MostRecent) (func(context.Context) result, []byte, func()) {
			return func(ctx context.Context) result { return decryptKey(ctx, mr, 7) }, tagged{7, 1}.key(), s.hold(t, 7)
		},
		wantLoads: map[int64]int64{1: 1, 7: 1},
		wantMax:   1,
	}, {
		name: "refresh of the newest version",
		hold: func(t *testing.T, s *gatedStore, clock *ddbenctest.Clock, mr *provider.MostRecent) (func(context.Context) result, []byte, func()) {
			clock.Advance(2 * time.Minute)
			if got := decryptKey(ctx, mr, 1); got.err != nil { // reload 1 for the hits
				t.Fatal(got.err)
			}
			gate := make(chan struct{})
			s.mu.Lock()
			s.maxGate = gate
			s.mu.Unlock()
			var once sync.Once
			release := func() { once.Do(func() { close(gate) }) }
			t.Cleanup(release)
			return func(ctx context.Context) result { return encryptKey(ctx, mr) }, tagged{7, 1}.key(), release
		},
		wantLoads: map[int64]int64{1: 2, 7: 1},
		wantMax:   2,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newGatedStore(1) // version 7 is added after the first write
			mr, clock := newMR(t, s)
			if got := encryptKey(ctx, mr); got.err != nil || !bytes.Equal(got.key, tagged{1, 1}.key()) {
				t.Fatalf("first write: key %v, err %v; want %v (version 1, first load)", got.key, got.err, tagged{1, 1}.key())
			}
			s.mu.Lock()
			s.versions[7] = true
			s.mu.Unlock()
			miss, want, release := tc.hold(t, s, clock, mr)
			const n = 3
			_, first := startWaiters(t, 1, miss)
			// While the store call is held, cached versions are served.
			hit := make(chan result, 1)
			go func() { hit <- decryptKey(ctx, mr, 1) }()
			if got := await(t, hit, "cached read during the held store call"); got.err != nil || !bytes.Equal(got.key, tagged{1, tc.wantLoads[1]}.key()) {
				t.Fatalf("cached read: key %v, err %v; want %v", got.key, got.err, tagged{1, tc.wantLoads[1]}.key())
			}
			// More callers join the held call.
			_, more := startWaiters(t, n-1, miss)
			release()
			for i := range n {
				ch := more
				if i == 0 {
					ch = first
				}
				got := await(t, ch, "waiter after release")
				if got.err != nil || !bytes.Equal(got.key, want) {
					t.Errorf("waiter %d: key %v, err %v; want %v", i, got.key, got.err, want)
				}
			}
			for v, want := range tc.wantLoads {
				if got := s.loadCount(v); got != want {
					t.Errorf("loads of version %d = %d, want %d", v, got, want)
				}
			}
			if got := s.maxCount(); got != tc.wantMax {
				t.Errorf("MaxVersion calls = %d, want %d", got, tc.wantMax)
			}
		})
	}
}

// TestMostRecentConcurrentFirstUseLoadsOnce: n callers that all find a
// version uncached share one store load.
func TestMostRecentConcurrentFirstUseLoadsOnce(t *testing.T) {
	const n = 8
	for _, tc := range []struct {
		name    string
		use     func(context.Context, *provider.MostRecent) result
		wantMax int
	}{
		{"read", func(ctx context.Context, mr *provider.MostRecent) result { return decryptKey(ctx, mr, 7) }, 0},
		{"write", encryptKey, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newGatedStore(7)
			mr, _ := newMR(t, s)
			release := s.hold(t, 7)
			_, results := startWaiters(t, n, func(ctx context.Context) result { return tc.use(ctx, mr) })
			release()
			for i := range n {
				if got, want := await(t, results, "caller after release"), (tagged{7, 1}).key(); got.err != nil || !bytes.Equal(got.key, want) {
					t.Errorf("caller %d: key %v, err %v; want %v (the one load)", i, got.key, got.err, want)
				}
			}
			if got := s.loadCount(7); got != 1 {
				t.Errorf("%d concurrent first uses: %d store loads, want 1", n, got)
			}
			if got := s.maxCount(); got != tc.wantMax {
				t.Errorf("MaxVersion calls = %d, want %d", got, tc.wantMax)
			}
		})
	}
}

// TestMostRecentNegativeCache: a version the store says does not exist is
// loaded once per NegativeTTL; transient failures are loaded every time.
func TestMostRecentNegativeCache(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		fail      error // nil: the version does not exist
		opts      func(*provider.MostRecentOptions)
		wantErr   error
		wantLoads int64 // for 5 reads within the negative TTL
	}{
		{name: "missing", wantErr: ddbenc.ErrWrongKey, wantLoads: 1},
		{name: "missing, negative cache off", opts: func(o *provider.MostRecentOptions) { o.NegativeTTL = 0 }, wantErr: ddbenc.ErrWrongKey, wantLoads: 5},
		{name: "throttled", fail: fmt.Errorf("%w: throttled", ddbenc.ErrKeyUnavailable), wantErr: ddbenc.ErrKeyUnavailable, wantLoads: 5},
		{name: "throttled while reading a missing version", fail: fmt.Errorf("%w: %w: retry", ddbenc.ErrWrongKey, ddbenc.ErrKeyUnavailable), wantErr: ddbenc.ErrKeyUnavailable, wantLoads: 5},
		{name: "store timeout", fail: fmt.Errorf("%w: reading: %w", ddbenc.ErrWrongKey, context.DeadlineExceeded), wantErr: context.DeadlineExceeded, wantLoads: 5},
		{name: "store cancelled", fail: fmt.Errorf("reading: %w", context.Canceled), wantErr: context.Canceled, wantLoads: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newGatedStore()
			if tc.fail != nil {
				s.versions[7], s.fail[7] = true, tc.fail
			}
			opts := []func(*provider.MostRecentOptions){func(o *provider.MostRecentOptions) { o.NegativeTTL = 5 * time.Second }}
			if tc.opts != nil {
				opts = append(opts, tc.opts)
			}
			mr, clock := newMR(t, s, opts...)
			for range 5 {
				if got := decryptKey(ctx, mr, 7); !errors.Is(got.err, tc.wantErr) {
					t.Fatalf("read: %v, want %v", got.err, tc.wantErr)
				}
			}
			if got := s.loadCount(7); got != tc.wantLoads {
				t.Errorf("5 reads within the negative TTL: %d store loads, want %d", got, tc.wantLoads)
			}
			clock.Advance(5 * time.Second)
			decryptKey(ctx, mr, 7)
			if got := s.loadCount(7); got != tc.wantLoads+1 {
				t.Errorf("read after the negative TTL: %d store loads, want %d", got, tc.wantLoads+1)
			}
		})
	}
}

// TestMostRecentNegativeCacheBoundsAndForgets: the negative cache holds at
// most CacheSize versions, and a version that Rotate creates or that the
// store reports as newest is usable at once.
func TestMostRecentNegativeCacheBoundsAndForgets(t *testing.T) {
	ctx := context.Background()
	s := newGatedStore()
	mr, clock := newMR(t, s, func(o *provider.MostRecentOptions) { o.CacheSize, o.NegativeTTL = 2, time.Hour })
	for _, step := range []struct {
		read      int64
		wantLoads int64 // of that version, after the read
	}{
		{10, 1}, {11, 1}, {10, 1}, {12, 1}, // 12 evicts 10, the oldest entry
		{11, 1}, {12, 1}, {10, 2}, {11, 2}, // 10 evicts 11

	} {
		if got := decryptKey(ctx, mr, step.read); !errors.Is(got.err, ddbenc.ErrWrongKey) {
			t.Fatalf("read %d: %v, want ErrWrongKey", step.read, got.err)
		}
		if got := s.loadCount(step.read); got != step.wantLoads {
			t.Errorf("after reading %d: %d loads of it, want %d", step.read, got, step.wantLoads)
		}
	}

	// Version 0 is remembered as missing, then created by Rotate.
	if got := decryptKey(ctx, mr, 0); !errors.Is(got.err, ddbenc.ErrWrongKey) {
		t.Fatalf("read of missing 0: %v", got.err)
	}
	if v, err := mr.Rotate(ctx); err != nil || v != 0 {
		t.Fatalf("Rotate = %d, %v; want 0", v, err)
	}
	if got := decryptKey(ctx, mr, 0); got.err != nil || !bytes.Equal(got.key, tagged{0, 0}.key()) {
		t.Errorf("read of rotated version 0: key %v, err %v; want %v", got.key, got.err, tagged{0, 0}.key())
	}

	// Version 1 is remembered as missing, then another writer creates it:
	// the next refresh uses it although the negative TTL has not passed.
	if got := decryptKey(ctx, mr, 1); !errors.Is(got.err, ddbenc.ErrWrongKey) {
		t.Fatalf("read of missing 1: %v", got.err)
	}
	s.mu.Lock()
	s.versions[1] = true
	s.mu.Unlock()
	clock.Advance(time.Minute) // the write TTL (1m), not the negative one (1h)
	if got, want := encryptKey(ctx, mr), (tagged{1, 2}).key(); got.err != nil || !bytes.Equal(got.key, want) {
		t.Errorf("write after another writer created 1: key %v, err %v; want %v", got.key, got.err, want)
	}
}

// TestMostRecentWaiterCancel: a waiter whose context ends returns at once
// without cancelling the shared load for the others; when the last waiter
// gives up, the load is cancelled and nothing is remembered.
func TestMostRecentWaiterCancel(t *testing.T) {
	for _, tc := range []struct {
		name   string
		use    func(context.Context, *provider.MostRecent) result
		cancel error // context.DeadlineExceeded: also try a caller past its deadline
	}{
		{"read, cancelled", func(ctx context.Context, mr *provider.MostRecent) result { return decryptKey(ctx, mr, 7) }, context.Canceled},
		{"write, cancelled", encryptKey, context.Canceled},
		{"read, and a caller past its deadline", func(ctx context.Context, mr *provider.MostRecent) result { return decryptKey(ctx, mr, 7) }, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newGatedStore(7)
			mr, _ := newMR(t, s)
			use := func(ctx context.Context) result { return tc.use(ctx, mr) }
			release := s.hold(t, 7)
			cancels, results := startWaiters(t, 2, use)
			await(t, s.started, "load of 7 reaching the store")
			if tc.cancel == context.DeadlineExceeded {
				// A caller whose deadline has passed returns at once too.
				dctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
				defer cancel()
				if got := tc.use(dctx, mr); !errors.Is(got.err, context.DeadlineExceeded) {
					t.Fatalf("expired caller: key %v, err %v; want context.DeadlineExceeded", got.key, got.err)
				}
			}
			// The first waiter leaves; the second still gets the load.
			cancels[0]()
			if got := await(t, results, "cancelled waiter"); !errors.Is(got.err, context.Canceled) {
				t.Fatalf("cancelled waiter: key %v, err %v; want context.Canceled", got.key, got.err)
			}
			release()
			if err := await(t, s.released, "held load"); err != nil {
				t.Errorf("the shared load saw its context end (%v) although a waiter remained", err)
			}
			if got, want := await(t, results, "remaining waiter"), (tagged{7, 1}).key(); got.err != nil || !bytes.Equal(got.key, want) {
				t.Errorf("remaining waiter: key %v, err %v; want %v", got.key, got.err, want)
			}
			if got := s.loadCount(7); got != 1 {
				t.Errorf("store loads = %d, want 1", got)
			}
		})
	}

	t.Run("last waiter leaves", func(t *testing.T) {
		s := newGatedStore(7)
		mr, _ := newMR(t, s)
		s.hold(t, 7)
		cancels, results := startWaiters(t, 1, func(ctx context.Context) result { return decryptKey(ctx, mr, 7) })
		cancels[0]()
		if got := await(t, results, "cancelled waiter"); !errors.Is(got.err, context.Canceled) {
			t.Fatalf("cancelled waiter: %v, want context.Canceled", got.err)
		}
		if err := await(t, s.released, "abandoned load"); !errors.Is(err, context.Canceled) {
			t.Errorf("abandoned load's context: %v, want context.Canceled", err)
		}
		// The cancelled load is not remembered: the next read loads again.
		s.mu.Lock()
		delete(s.gates, 7)
		s.mu.Unlock()
		if got, want := decryptKey(context.Background(), mr, 7), (tagged{7, 2}).key(); got.err != nil || !bytes.Equal(got.key, want) {
			t.Errorf("read after the abandoned load: key %v, err %v; want %v", got.key, got.err, want)
		}
	})
}

// TestMostRecentRotateDuringRefresh: a refresh that started before a Rotate
// does not replace the rotated version when it completes.
func TestMostRecentRotateDuringRefresh(t *testing.T) {
	ctx := context.Background()
	s := newGatedStore(0)
	mr, clock := newMR(t, s)
	if got := encryptKey(ctx, mr); got.err != nil || !bytes.Equal(got.key, tagged{0, 1}.key()) {
		t.Fatalf("first write: key %v, err %v", got.key, got.err)
	}
	clock.Advance(2 * time.Minute)
	gate := make(chan struct{})
	s.mu.Lock()
	s.maxGate = gate // the refresh will answer 0
	s.mu.Unlock()
	_, results := startWaiters(t, 1, func(ctx context.Context) result { return encryptKey(ctx, mr) })
	await(t, s.maxHeld, "refresh asking for the newest version")
	rotated := make(chan error, 1)
	go func() {
		v, err := mr.Rotate(ctx)
		if err == nil && v != 1 {
			err = fmt.Errorf("rotated to version %d, want 1", v)
		}
		rotated <- err
	}()
	if err := await(t, rotated, "Rotate during the refresh"); err != nil {
		t.Fatalf("Rotate during the refresh: %v", err)
	}
	close(gate)
	want := tagged{1, 0}.key()
	if got := await(t, results, "refreshing writer"); got.err != nil || !bytes.Equal(got.key, want) {
		t.Errorf("writer whose refresh was overtaken by Rotate: key %v, err %v; want %v (version 1)", got.key, got.err, want)
	}
	if got := encryptKey(ctx, mr); got.err != nil || !bytes.Equal(got.key, want) {
		t.Errorf("write after the refresh: key %v, err %v; want %v (version 1)", got.key, got.err, want)
	}
}

// TestMostRecentStorePanic: a panicking store panics in every waiter, as if
// it had been called directly, and the provider stays usable.
func TestMostRecentStorePanic(t *testing.T) {
	s := newGatedStore(7)
	s.panics[7] = true
	mr, _ := newMR(t, s)
	read := func() (got any) {
		defer func() { got = recover() }()
		decryptKey(context.Background(), mr, 7)
		return nil
	}
	if got := read(); got != "store panic" {
		t.Fatalf("recovered %v, want the store's panic value", got)
	}
	s.mu.Lock()
	s.panics[7] = false
	s.mu.Unlock()
	done := make(chan result, 1)
	go func() { done <- decryptKey(context.Background(), mr, 7) }()
	if got, want := await(t, done, "read after the panic"), (tagged{7, 2}).key(); got.err != nil || !bytes.Equal(got.key, want) {
		t.Errorf("read after the panic: key %v, err %v; want %v", got.key, got.err, want)
	}
}
