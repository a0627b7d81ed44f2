package provider

import (
	"container/list"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/legacy"
)

// MostRecentOptions are the optional settings of NewMostRecent.
type MostRecentOptions struct {
	// TTL is how long a loaded version is used before the store is asked
	// again: for writing, which version is newest; for reading, the cached
	// materials of a version. Default 1 minute.
	TTL time.Duration
	// CacheSize bounds the number of versions kept for reading (LRU), and
	// separately the number of versions remembered as missing (see
	// NegativeTTL). Default 1000.
	CacheSize int
	// NegativeTTL is how long a version the store reported as nonexistent
	// (an error wrapping ErrWrongKey, as MaterialStore.Provider returns for
	// a missing version) is remembered, so that items naming versions that
	// do not exist cannot force one store read per item. Transient failures
	// (ErrKeyUnavailable, context errors) are never remembered. A version
	// that Rotate creates or that the store reports as newest is forgotten
	// at once. Zero disables the negative cache. Default 5 seconds.
	NegativeTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// MostRecent is the legacy clients' CachingMostRecentProvider: items are
// written with the newest version of a material from a MaterialStore
// (usually a MetaStore) and read with the version their amzn-ddb-meta-id
// names. KMS (or whatever protects the store) is called once per version and
// TTL, not once per item. It is safe for concurrent use.
//
// No lock is held while the store is called: cache hits never wait for a
// cache miss. Concurrent misses of one version share one store call, as do
// concurrent refreshes of the newest version; each caller waits for it only
// as long as its own context allows. The shared call runs under a context
// that keeps the first caller's values but is cancelled only when every
// caller waiting for it has given up.
type MostRecent struct {
	store MaterialStore
	name  string
	opts  MostRecentOptions

	// rotating serializes Rotate calls (a semaphore, so that waiting for it
	// honours the caller's context).
	rotating chan struct{}

	mu        sync.Mutex
	current   ddbenc.MaterialsProvider
	currentV  int64
	currentAt time.Time
	rotations uint64 // incremented by every Rotate that installs a version
	cache     map[int64]*list.Element
	lru       *list.List
	missing   map[int64]*list.Element // negative cache, front = newest
	missingQ  *list.List
	loads     map[int64]*flight // in-flight store.Provider calls
	refresh   *flight           // in-flight newest-version lookup
}

// NewMostRecent returns a most-recent provider for materialName in store.
// It does no I/O.
func NewMostRecent(store MaterialStore, materialName string, optFns ...func(*MostRecentOptions)) (*MostRecent, error) {
	opts := MostRecentOptions{TTL: time.Minute, CacheSize: 1000, NegativeTTL: 5 * time.Second, Now: time.Now}
	for _, fn := range optFns {
		fn(&opts)
	}
	switch {
	case store == nil:
		return nil, fmt.Errorf("%w: provider: a material store is required", ddbenc.ErrInvalidConfig)
	case materialName == "" || strings.Contains(materialName, "#"):
		return nil, fmt.Errorf("%w: provider: material name must be non-empty and contain no '#'", ddbenc.ErrInvalidConfig)
	case opts.TTL <= 0 || opts.CacheSize <= 0 || opts.Now == nil:
		return nil, fmt.Errorf("%w: provider: TTL and cache size must be positive", ddbenc.ErrInvalidConfig)
	case opts.NegativeTTL < 0:
		return nil, fmt.Errorf("%w: provider: negative-cache TTL must not be negative", ddbenc.ErrInvalidConfig)
	}
	return &MostRecent{
		store: store, name: materialName, opts: opts,
		rotating: make(chan struct{}, 1),
		cache:    map[int64]*list.Element{}, lru: list.New(),
		missing: map[int64]*list.Element{}, missingQ: list.New(),
		loads: map[int64]*flight{},
	}, nil
}

// EncryptionMaterials uses the newest version, creating version 0 if the
// material has none yet.
func (m *MostRecent) EncryptionMaterials(ctx context.Context, ec ddbenc.EncryptionContext) (*ddbenc.EncryptionMaterials, error) {
	p, err := m.currentProvider(ctx)
	if err != nil {
		return nil, err
	}
	return p.EncryptionMaterials(ctx, ec)
}

// currentProvider returns the version for writing; after the TTL it asks the
// store again, in one shared lookup.
func (m *MostRecent) currentProvider(ctx context.Context) (ddbenc.MaterialsProvider, error) {
	m.mu.Lock()
	now := m.opts.Now()
	if m.current != nil && now.Sub(m.currentAt) < m.opts.TTL {
		p := m.current
		m.mu.Unlock()
		return p, nil
	}
	if err := ctx.Err(); err != nil {
		m.mu.Unlock()
		return nil, err
	}
	f := m.refresh
	if f != nil {
		f.waiters++
	} else {
		f = m.newFlightLocked(ctx)
		f.abandon = func() {
			if m.refresh == f {
				m.refresh = nil
			}
		}
		m.refresh = f
		rotations := m.rotations
		go m.run(f, func(ctx context.Context) (ddbenc.MaterialsProvider, int64, error) {
			return m.newest(ctx, now)
		}, func(p ddbenc.MaterialsProvider, v int64, err error) (ddbenc.MaterialsProvider, int64, error) {
			f.abandon()
			if m.rotations != rotations && m.current != nil {
				return m.current, m.currentV, nil // Rotate installed a newer version meanwhile
			}
			if err != nil {
				return nil, 0, err
			}
			m.current, m.currentV, m.currentAt = p, v, now
			m.putLocked(v, p, now)
			return p, v, nil
		})
	}
	m.mu.Unlock()
	p, _, err := m.wait(ctx, f)
	return p, err
}

// newest asks the store for the newest version and returns its materials,
// creating version 0 if there is none. It runs in a refresh flight.
func (m *MostRecent) newest(ctx context.Context, now time.Time) (ddbenc.MaterialsProvider, int64, error) {
	v, ok, err := m.store.MaxVersion(ctx, m.name)
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		p, err := m.store.GetOrCreate(ctx, m.name, 0)
		return p, 0, err
	}
	m.mu.Lock()
	if m.current != nil && v == m.currentV {
		p := m.current
		m.mu.Unlock()
		return p, v, nil
	}
	if p, ok := m.cachedLocked(v, now); ok {
		m.mu.Unlock()
		return p, v, nil
	}
	m.forgetMissingLocked(v) // the store says it exists now
	f := m.loadLocked(ctx, v, now)
	m.mu.Unlock()
	p, _, err := m.wait(ctx, f)
	return p, v, err
}

// Rotate creates the next version and uses it for writing from now on. It
// returns the new version. Concurrent Rotate calls on one MostRecent run one
// after the other, so each creates its own version.
func (m *MostRecent) Rotate(ctx context.Context) (int64, error) {
	select {
	case m.rotating <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-m.rotating }()
	v, ok, err := m.store.MaxVersion(ctx, m.name)
	if err != nil {
		return 0, err
	}
	next := int64(0)
	if ok {
		next = v + 1
	}
	p, err := m.store.GetOrCreate(ctx, m.name, next)
	if err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.Now()
	m.current, m.currentV, m.currentAt = p, next, now
	m.rotations++
	m.putLocked(next, p, now)
	m.forgetMissingLocked(next)
	return next, nil
}

// DecryptionMaterials uses the version named in the item's amzn-ddb-meta-id
// ("name#version"). As in the legacy clients, the name part is ignored: the
// configured material name is used.
func (m *MostRecent) DecryptionMaterials(ctx context.Context, ec ddbenc.EncryptionContext) (*ddbenc.DecryptionMaterials, error) {
	id, ok := ec.MaterialDescription[legacy.MetaID]
	if !ok {
		return nil, fmt.Errorf("%w: provider: item was not written by a most-recent provider (no %s)", ddbenc.ErrWrongKey, legacy.MetaID)
	}
	_, vs, found := strings.Cut(id, "#")
	v, err := strconv.ParseInt(vs, 10, 64)
	if !found || err != nil || v < 0 {
		return nil, fmt.Errorf("%w: provider: malformed %s", ddbenc.ErrMalformed, legacy.MetaID)
	}
	p, err := m.version(ctx, v)
	if err != nil {
		return nil, err
	}
	return p.DecryptionMaterials(ctx, ec)
}

// version returns a version's materials from the cache, the negative cache,
// or one store load shared with every concurrent caller of that version.
func (m *MostRecent) version(ctx context.Context, v int64) (ddbenc.MaterialsProvider, error) {
	m.mu.Lock()
	now := m.opts.Now()
	if p, ok := m.cachedLocked(v, now); ok {
		m.mu.Unlock()
		return p, nil
	}
	if err := m.missingLocked(v, now); err != nil {
		m.mu.Unlock()
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		m.mu.Unlock()
		return nil, err
	}
	f := m.loadLocked(ctx, v, now)
	m.mu.Unlock()
	p, _, err := m.wait(ctx, f)
	return p, err
}

var _ ddbenc.MaterialsProvider = (*MostRecent)(nil)
