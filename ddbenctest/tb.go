package ddbenctest

import (
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

// unavailable fails tb (CI=true) or skips it, saying why, when what could
// not start.
func unavailable(tb testing.TB, what string, err error) {
	tb.Helper()
	if inCI() {
		tb.Fatalf("ddbenctest: CI=true and %s cannot start: %v", what, err)
	}
	tb.Skipf("ddbenctest: SKIPPED: %s cannot start (with CI=true this fails): %v", what, err)
}
