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
	// CacheSize bounds the number of versions kept for reading (LRU).
	// Default 1000.
	CacheSize int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// MostRecent is the legacy clients' CachingMostRecentProvider: items are
// written with the newest version of a material from a MaterialStore
// (usually a MetaStore) and read with the version their amzn-ddb-meta-id
// names. KMS (or whatever protects the store) is called once per version and
// TTL, not once per item. It is safe for concurrent use.
type MostRecent struct {
	store MaterialStore
	name  string
	opts  MostRecentOptions

	mu        sync.Mutex
	current   ddbenc.MaterialsProvider
	currentV  int64
	currentAt time.Time
	cache     map[int64]*list.Element
	lru       *list.List
}

type cachedVersion struct {
	version int64
	p       ddbenc.MaterialsProvider
	at      time.Time
}

// NewMostRecent returns a most-recent provider for materialName in store.
// It does no I/O.
func NewMostRecent(store MaterialStore, materialName string, optFns ...func(*MostRecentOptions)) (*MostRecent, error) {
	opts := MostRecentOptions{TTL: time.Minute, CacheSize: 1000, Now: time.Now}
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
	}
	return &MostRecent{store: store, name: materialName, opts: opts, cache: map[int64]*list.Element{}, lru: list.New()}, nil
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

func (m *MostRecent) currentProvider(ctx context.Context) (ddbenc.MaterialsProvider, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.Now()
	if m.current != nil && now.Sub(m.currentAt) < m.opts.TTL {
		return m.current, nil
	}
	v, ok, err := m.store.MaxVersion(ctx, m.name)
	if err != nil {
		return nil, err
	}
	var p ddbenc.MaterialsProvider
	if !ok {
		v = 0
		if p, err = m.store.GetOrCreate(ctx, m.name, 0); err != nil {
			return nil, err
		}
	} else if m.current != nil && v == m.currentV {
		p = m.current
	} else if p, err = m.versionLocked(ctx, v, now); err != nil {
		return nil, err
	}
	m.current, m.currentV, m.currentAt = p, v, now
	m.putLocked(v, p, now)
	return p, nil
}

// Rotate creates the next version and uses it for writing from now on. It
// returns the new version.
func (m *MostRecent) Rotate(ctx context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
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
	now := m.opts.Now()
	m.current, m.currentV, m.currentAt = p, next, now
	m.putLocked(next, p, now)
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
	m.mu.Lock()
	p, err := m.versionLocked(ctx, v, m.opts.Now())
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return p.DecryptionMaterials(ctx, ec)
}

// versionLocked returns a version's materials from the cache or the store.
func (m *MostRecent) versionLocked(ctx context.Context, v int64, now time.Time) (ddbenc.MaterialsProvider, error) {
	if el, ok := m.cache[v]; ok {
		c := el.Value.(*cachedVersion)
		if now.Sub(c.at) < m.opts.TTL {
			m.lru.MoveToFront(el)
			return c.p, nil
		}
	}
	p, err := m.store.Provider(ctx, m.name, v)
	if err != nil {
		return nil, err
	}
	m.putLocked(v, p, now)
	return p, nil
}

func (m *MostRecent) putLocked(v int64, p ddbenc.MaterialsProvider, now time.Time) {
	if el, ok := m.cache[v]; ok {
		el.Value = &cachedVersion{version: v, p: p, at: now}
		m.lru.MoveToFront(el)
		return
	}
	m.cache[v] = m.lru.PushFront(&cachedVersion{version: v, p: p, at: now})
	for m.lru.Len() > m.opts.CacheSize {
		last := m.lru.Back()
		delete(m.cache, last.Value.(*cachedVersion).version)
		m.lru.Remove(last)
	}
}

var _ ddbenc.MaterialsProvider = (*MostRecent)(nil)
