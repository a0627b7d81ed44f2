package provider

import (
	"time"

	"github.com/ddbec/ddbec-go/ddbenc"
)

// The most-recent provider's caches, guarded by MostRecent.mu: loaded
// versions (LRU, TTL) and versions the store reported missing (the negative
// cache, NegativeTTL).

type cachedVersion struct {
	version int64
	p       ddbenc.MaterialsProvider
	at      time.Time
}

type missingVersion struct {
	version int64
	err     error
	at      time.Time
}

// cachedLocked returns a version's materials if they are cached and fresh.
func (m *MostRecent) cachedLocked(v int64, now time.Time) (ddbenc.MaterialsProvider, bool) {
	if el, ok := m.cache[v]; ok {
		c := el.Value.(*cachedVersion)
		if now.Sub(c.at) < m.opts.TTL {
			m.lru.MoveToFront(el)
			return c.p, true
		}
	}
	return nil, false
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

// missingLocked returns the remembered error if v is known not to exist.
func (m *MostRecent) missingLocked(v int64, now time.Time) error {
	el, ok := m.missing[v]
	if !ok {
		return nil
	}
	mv := el.Value.(*missingVersion)
	if now.Sub(mv.at) < m.opts.NegativeTTL {
		return mv.err
	}
	delete(m.missing, v)
	m.missingQ.Remove(el)
	return nil
}

// rememberMissingLocked records that v does not exist, evicting the oldest
// entries beyond CacheSize.
func (m *MostRecent) rememberMissingLocked(v int64, err error, now time.Time) {
	if m.opts.NegativeTTL <= 0 {
		return
	}
	mv := &missingVersion{version: v, err: err, at: now}
	if el, ok := m.missing[v]; ok {
		el.Value = mv
		m.missingQ.MoveToFront(el)
		return
	}
	m.missing[v] = m.missingQ.PushFront(mv)
	for m.missingQ.Len() > m.opts.CacheSize {
		last := m.missingQ.Back()
		delete(m.missing, last.Value.(*missingVersion).version)
		m.missingQ.Remove(last)
	}
}

func (m *MostRecent) forgetMissingLocked(v int64) {
	if el, ok := m.missing[v]; ok {
		delete(m.missing, v)
		m.missingQ.Remove(el)
	}
}
