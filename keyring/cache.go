package keyring

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ddbec/ddbec-go/ddbenc"
)

// BranchKeyCacheOptions configure NewBranchKeyCache.
type BranchKeyCacheOptions struct {
	// TTL is how long a loaded branch key is used (required, > 0): an entry
	// is served while now − load time ≤ TTL, then loaded again
	// (docs/dbesdk-format.md §8.10.5).
	TTL time.Duration
	// Capacity is the number of entries kept (default 1000, AWS's default);
	// the least recently used entry is evicted beyond it.
	Capacity int
	// Now is the clock (default time.Now); tests set a fake one.
	Now func() time.Time
}

// DefaultBranchKeyCacheCapacity is the Capacity used when none is set.
const DefaultBranchKeyCacheCapacity = 1000

// BranchKeyCache is a BranchKeySource that caches another one's keys for a
// TTL (docs/dbesdk-format.md §8.10.5). Active keys (encrypt) are cached by
// branch key id, versions (decrypt) by branch key id and version; they are
// separate entries, as in AWS's cache. It is safe for concurrent use:
//
//   - at most one load per entry is in flight: concurrent first uses of one
//     id (or one version) make one source call, the others wait for it and
//     give up when their own context ends;
//   - no lock is held while the source is called;
//   - a failed load is not cached: the next caller loads again. When the
//     loader's own context ended, a waiter whose context is still live
//     loads again itself instead of taking that error;
//   - key bytes are copied in and out, so a caller cannot change the cache.
type BranchKeyCache struct {
	source   BranchKeySource
	ttl      time.Duration
	capacity int
	now      func() time.Time

	mu       sync.Mutex
	entries  map[cacheKey]*list.Element // of *cacheEntry
	lru      *list.List                 // front = most recently used
	inflight map[cacheKey]*cacheLoad
}

type cacheKey struct {
	active      bool
	id, version string
}

type cacheEntry struct {
	key     cacheKey
	bk      BranchKey
	created time.Time
}

type cacheLoad struct {
	done chan struct{}
	bk   BranchKey
	err  error
}

var _ BranchKeySource = (*BranchKeyCache)(nil)

// NewBranchKeyCache returns a cache in front of source.
func NewBranchKeyCache(source BranchKeySource, opts BranchKeyCacheOptions) (*BranchKeyCache, error) {
	if source == nil {
		return nil, fmt.Errorf("%w: keyring: branch key cache: a branch key source is required", ddbenc.ErrInvalidConfig)
	}
	if opts.TTL <= 0 {
		return nil, fmt.Errorf("%w: keyring: branch key cache: the TTL must be positive", ddbenc.ErrInvalidConfig)
	}
	if opts.Capacity < 0 {
		return nil, fmt.Errorf("%w: keyring: branch key cache: the capacity must not be negative", ddbenc.ErrInvalidConfig)
	}
	if opts.Capacity == 0 {
		opts.Capacity = DefaultBranchKeyCacheCapacity
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &BranchKeyCache{
		source: source, ttl: opts.TTL, capacity: opts.Capacity, now: opts.Now,
		entries: map[cacheKey]*list.Element{}, lru: list.New(), inflight: map[cacheKey]*cacheLoad{},
	}, nil
}

// ActiveBranchKey implements BranchKeySource.
func (c *BranchKeyCache) ActiveBranchKey(ctx context.Context, id string) (BranchKey, error) {
	return c.get(ctx, cacheKey{active: true, id: id})
}

// BranchKeyVersion implements BranchKeySource.
func (c *BranchKeyCache) BranchKeyVersion(ctx context.Context, id, version string) (BranchKey, error) {
	return c.get(ctx, cacheKey{id: id, version: version})
}

// Len returns the number of cached entries (expired ones included until
// they are replaced or evicted).
func (c *BranchKeyCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

func cloneKey(bk BranchKey) BranchKey {
	bk.Key = slices.Clone(bk.Key)
	return bk
}

func (c *BranchKeyCache) get(ctx context.Context, k cacheKey) (BranchKey, error) {
	for {
		if err := ctx.Err(); err != nil {
			return BranchKey{}, err
		}
		c.mu.Lock()
		if el, ok := c.entries[k]; ok {
			e := el.Value.(*cacheEntry)
			if c.now().Sub(e.created) <= c.ttl {
				c.lru.MoveToFront(el)
				bk := cloneKey(e.bk)
				c.mu.Unlock()
				return bk, nil
			}
		}
		if l, ok := c.inflight[k]; ok {
			c.mu.Unlock()
			select {
			case <-l.done:
			case <-ctx.Done():
				return BranchKey{}, ctx.Err()
			}
			if l.err == nil {
				return cloneKey(l.bk), nil
			}
			if isContextErr(l.err) && ctx.Err() == nil {
				continue // the loader gave up; load with this caller's context
			}
			return BranchKey{}, l.err
		}
		l := &cacheLoad{done: make(chan struct{})}
		c.inflight[k] = l
		c.mu.Unlock()
		return c.load(ctx, k, l)
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// load calls the source for k and publishes the result to l's waiters; a
// panic in the source is turned into an error for the waiters and re-raised.
func (c *BranchKeyCache) load(ctx context.Context, k cacheKey, l *cacheLoad) (bk BranchKey, err error) {
	finished := false
	defer func() {
		if !finished {
			l.err = fmt.Errorf("%w: keyring: branch key cache: the branch key source panicked", ddbenc.ErrKeyUnavailable)
			c.publish(k, l, false)
		}
	}()
	if k.active {
		bk, err = c.source.ActiveBranchKey(ctx, k.id)
	} else {
		bk, err = c.source.BranchKeyVersion(ctx, k.id, k.version)
	}
	finished = true
	if err != nil {
		l.err = err
		c.publish(k, l, false)
		return BranchKey{}, err
	}
	l.bk = cloneKey(bk)
	c.publish(k, l, true)
	return cloneKey(bk), nil
}

// publish ends the in-flight load l of k, storing its key when ok.
func (c *BranchKeyCache) publish(k cacheKey, l *cacheLoad, ok bool) {
	c.mu.Lock()
	delete(c.inflight, k)
	if ok {
		e := &cacheEntry{key: k, bk: cloneKey(l.bk), created: c.now()}
		if el, exists := c.entries[k]; exists {
			clear(el.Value.(*cacheEntry).bk.Key)
			el.Value = e
			c.lru.MoveToFront(el)
		} else {
			c.entries[k] = c.lru.PushFront(e)
		}
		for c.lru.Len() > c.capacity {
			last := c.lru.Back()
			c.lru.Remove(last)
			old := last.Value.(*cacheEntry)
			clear(old.bk.Key)
			delete(c.entries, old.key)
		}
	}
	c.mu.Unlock()
	close(l.done)
}
