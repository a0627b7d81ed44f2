package provider

import (
	"context"
	"errors"
	"time"

	"github.com/ddbec/ddbec-go/ddbenc"
)

// The most-recent provider's store calls: one shared flight per version
// load and per newest-version refresh, run without holding MostRecent.mu.

// flight is one in-flight store call whose result every waiter shares.
type flight struct {
	ctx     context.Context // detached from any caller's cancellation
	cancel  context.CancelFunc
	done    chan struct{} // closed once p, v, err and panicked are set
	waiters int           // guarded by MostRecent.mu
	// abandon unregisters the flight (under MostRecent.mu) so that no new
	// caller joins it once every waiter has given up.
	abandon func()

	p        ddbenc.MaterialsProvider
	v        int64
	err      error
	panicked any // the store's panic value, re-raised in every waiter
}

// errStorePanicked marks a flight whose store call panicked; waiters re-panic
// with the original value, so it is never returned.
var errStorePanicked = errors.New("provider: material store panicked")

// loadLocked joins the in-flight load of v or starts one. The caller must
// wait for the returned flight.
func (m *MostRecent) loadLocked(ctx context.Context, v int64, now time.Time) *flight {
	if f := m.loads[v]; f != nil {
		f.waiters++
		return f
	}
	f := m.newFlightLocked(ctx)
	f.abandon = func() {
		if m.loads[v] == f {
			delete(m.loads, v)
		}
	}
	m.loads[v] = f
	go m.run(f, func(ctx context.Context) (ddbenc.MaterialsProvider, int64, error) {
		p, err := m.store.Provider(ctx, m.name, v)
		return p, v, err
	}, func(p ddbenc.MaterialsProvider, v int64, err error) (ddbenc.MaterialsProvider, int64, error) {
		f.abandon()
		switch {
		case err == nil:
			m.putLocked(v, p, now)
			m.forgetMissingLocked(v)
		case f.ctx.Err() == nil && versionMissing(err):
			m.rememberMissingLocked(v, err, now)
		}
		return p, v, err
	})
	return f
}

// versionMissing reports whether err says that a version does not exist, as
// opposed to a transient failure that must not be remembered.
func versionMissing(err error) bool {
	return errors.Is(err, ddbenc.ErrWrongKey) &&
		!errors.Is(err, ddbenc.ErrKeyUnavailable) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// newFlightLocked returns a flight with one waiter whose context keeps ctx's
// values but not its cancellation or deadline.
func (m *MostRecent) newFlightLocked(ctx context.Context) *flight {
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	return &flight{ctx: fctx, cancel: cancel, done: make(chan struct{}), waiters: 1}
}

// run performs f's store calls without holding m.mu, then, under m.mu,
// settles the result (unregistering f and updating the caches) and wakes
// the waiters.
func (m *MostRecent) run(f *flight,
	call func(context.Context) (ddbenc.MaterialsProvider, int64, error),
	settle func(ddbenc.MaterialsProvider, int64, error) (ddbenc.MaterialsProvider, int64, error)) {
	defer f.cancel()
	var (
		p   ddbenc.MaterialsProvider
		v   int64
		err error
	)
	func() {
		defer func() {
			if r := recover(); r != nil {
				f.panicked, err = r, errStorePanicked
			}
		}()
		p, v, err = call(f.ctx)
	}()
	m.mu.Lock()
	defer m.mu.Unlock()
	if f.panicked != nil {
		f.abandon()
		f.err = err
	} else {
		f.p, f.v, f.err = settle(p, v, err)
	}
	close(f.done)
}

// wait returns f's result, or ctx.Err() as soon as ctx is done. The last
// waiter to give up cancels the store call.
func (m *MostRecent) wait(ctx context.Context, f *flight) (ddbenc.MaterialsProvider, int64, error) {
	select {
	case <-f.done:
		if f.panicked != nil {
			panic(f.panicked)
		}
		return f.p, f.v, f.err
	case <-ctx.Done():
		m.mu.Lock()
		f.waiters--
		if f.waiters == 0 {
			f.abandon()
			f.cancel()
		}
		m.mu.Unlock()
		return nil, 0, ctx.Err()
	}
}
