package ddbenc

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

// TestParallelPanic: a panic in an item is raised again in the caller once
// every worker has ended.
func TestParallelPanic(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	defer func() {
		if r := recover(); r != "item 5" {
			t.Errorf("recovered %v, want the item's panic", r)
		}
	}()
	parallel(context.Background(), 4, 20, func(i int) error {
		if i == 5 {
			panic(fmt.Sprint("item ", i))
		}
		return nil
	})
	t.Error("parallel returned after a panic")
}

// TestParallelStops: after a failure no further index is handed out, every
// index below the failing one is processed, and the lowest failure wins.
func TestParallelStops(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const n, bad = 1000, 10
	var done [n]atomic.Bool
	errBad := errors.New("bad")
	err := parallel(context.Background(), 4, n, func(i int) error {
		done[i].Store(true)
		if i >= bad {
			return fmt.Errorf("%w %d", errBad, i)
		}
		return nil
	})
	if err == nil || err.Error() != fmt.Sprintf("bad %d", bad) {
		t.Errorf("error %v, want that of index %d", err, bad)
	}
	started := 0
	for i := range done {
		if done[i].Load() {
			started++
		} else if i < bad {
			t.Errorf("index %d below the failure was not processed", i)
		}
	}
	// At most one more index per worker after the failure.
	if started > bad+4 {
		t.Errorf("%d indexes processed, want at most %d", started, bad+4)
	}
}
