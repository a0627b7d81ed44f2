package ddbenctest

import (
	"sync"
	"time"
)

// Clock is a manual clock, safe for concurrent use. It moves only when
// Advance is called. Its Now method fits KMSOptions.Now and any other
// func() time.Time hook, so one Clock can drive both the fake and the code
// under test (for example provider.MostRecentOptions.Now in the provider and
// integration tests): advancing it once passes a replica delay and a cache
// TTL together.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at a fixed time, 2026-11-23T00:00:00Z, so tests
// that print or compare times are deterministic.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d (backward if d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
