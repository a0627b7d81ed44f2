//go:build race

package ddbenc_test

// raceEnabled: the race detector slows the crypto of the DB-ESDK mutation
// matrix about tenfold, so under it the matrix flips one bit per byte; `make
// test` also runs the full matrix without it.
const raceEnabled = true
