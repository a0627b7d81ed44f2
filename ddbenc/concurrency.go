package ddbenc

import (
	"context"
	"sync"
	"sync/atomic"
)

// The items of one multi-item call (Query, Scan, BatchGetItem,
// BatchWriteItem, TransactGetItems, TransactWriteItems) are encrypted or
// decrypted on up to Options.Concurrency goroutines, so that their KMS round
// trips overlap. The call sites choose: serial(workers, n) runs today's loop
// in the calling goroutine, with no goroutine, closure or allocation added;
// otherwise parallel runs the same per-item function. Either way the
// results go to the item's own index, so order is kept, and the error is
// that of the first failing item in item order.

// DefaultConcurrency is the number of items of one multi-item call that a
// Client encrypts or decrypts at once when Options.Concurrency is zero.
const DefaultConcurrency = 16

// serial reports whether n items are processed one after another in the
// calling goroutine: one worker, or at most one item.
func serial(workers, n int) bool { return workers <= 1 || n <= 1 }

// parallel calls fn(i) for every i in [0, n) on up to workers goroutines,
// the calling one among them. Indexes are handed out in increasing order;
// once an item has failed, or ctx has ended, no further index is handed out.
// The items already started run to completion (with ctx, so an ended ctx
// stops their I/O), and the error of the lowest failing index is returned:
// all indexes below it were started, so it is the error a serial loop
// returns. An index not started because ctx ended fails with ctx.Err(). Every
// goroutine has ended when parallel returns; a panic in fn is raised again
// in the caller.
func parallel(ctx context.Context, workers, n int, fn func(i int) error) error {
	workers = min(workers, n)
	var (
		next atomic.Int64 // the next index to hand out
		stop atomic.Bool  // hand out no more indexes

		mu       sync.Mutex // guards the fields below
		failed   = n        // the lowest failing index so far; n: none
		firstErr error
		panicked bool
		panicVal any
	)
	fail := func(i int, err error) {
		mu.Lock()
		if i < failed {
			failed, firstErr = i, err
		}
		mu.Unlock()
		stop.Store(true)
	}
	work := func() {
		defer func() {
			if r := recover(); r != nil {
				mu.Lock()
				if !panicked {
					panicked, panicVal = true, r
				}
				mu.Unlock()
				stop.Store(true)
			}
		}()
		for !stop.Load() {
			i := int(next.Add(1) - 1)
			if i >= n {
				return
			}
			if err := ctx.Err(); err != nil {
				fail(i, err)
				return
			}
			if err := fn(i); err != nil {
				fail(i, err)
				return
			}
		}
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
	if panicked {
		panic(panicVal)
	}
	return firstErr
}
