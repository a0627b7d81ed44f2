package ddbenctest

import (
	"fmt"
	"os"
	"strconv"
	"testing"
)

// EnvCI is the environment variable that turns a skip into a failure: when
// it is true (as CI systems set it), a test helper that cannot start
// DynamoDB Local fails the test instead of skipping it.
const EnvCI = "CI"

// inCI reports whether CI is set to a true value (true, 1, TRUE, …).
func inCI() bool {
	v, err := strconv.ParseBool(os.Getenv(EnvCI))
	return err == nil && v
}

// EnvSkipReport names a file to which every skip of SkipUnavailable appends
// one line (test name and reason), so that a test run can end with a loud
// summary of what did not run; the Makefile's test target sets it.
const EnvSkipReport = "DDBEC_SKIP_REPORT"

// SkipUnavailable fails tb when CI is true, and otherwise skips it, saying
// why, because what (e.g. "DynamoDB Local") could not start. A skip is also
// appended to the file named by DDBEC_SKIP_REPORT, if set. The helpers of
// this package call it; call it from your own TestMain-started set-up.
func SkipUnavailable(tb testing.TB, what string, err error) {
	tb.Helper()
	if inCI() {
		tb.Fatalf("ddbenctest: CI=true and %s cannot start: %v", what, err)
	}
	if path := os.Getenv(EnvSkipReport); path != "" {
		if f, ferr := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); ferr == nil {
			fmt.Fprintf(f, "%s: %s cannot start: %v\n", tb.Name(), what, err)
			f.Close()
		}
	}
	tb.Skipf("ddbenctest: SKIPPED: %s cannot start (with CI=true this fails): %v", what, err)
}
