package ddbenctest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ddbec/ddbec-go/ddbenctest"
)

// TestStartDynamoDBUnavailable runs StartDynamoDB in a child test process
// where DynamoDB Local cannot start (no java on PATH, no endpoint): with
// CI=true the child test fails, without it the child test is skipped with
// the reason.
func TestStartDynamoDBUnavailable(t *testing.T) {
	if os.Getenv("DDBENCTEST_CHILD") == "1" {
		ddbenctest.StartDynamoDB(t)
		t.Log("child: StartDynamoDB returned")
		return
	}
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "PATH" && k != "CI" && k != ddbenctest.EnvDynamoDBEndpoint && k != ddbenctest.EnvSkipReport {
			env = append(env, kv)
		}
	}
	for _, c := range []struct {
		ci       string
		wantFail bool
		want     string
	}{
		{"true", true, "--- FAIL: TestStartDynamoDBUnavailable"},
		{"", false, "--- SKIP: TestStartDynamoDBUnavailable"},
	} {
		report := filepath.Join(t.TempDir(), "skipped")
		cmd := exec.Command(os.Args[0], "-test.run=^TestStartDynamoDBUnavailable$", "-test.v")
		cmd.Env = append(env, "PATH=", "CI="+c.ci, "DDBENCTEST_CHILD=1", ddbenctest.EnvSkipReport+"="+report)
		out, err := cmd.CombinedOutput()
		// A skip is listed in the report (make test prints it); a failure is not.
		listed, _ := os.ReadFile(report)
		if want := !c.wantFail; strings.Contains(string(listed), "TestStartDynamoDBUnavailable: DynamoDB Local cannot start") != want {
			t.Errorf("CI=%q: skip report %q, want the test listed: %v", c.ci, listed, want)
		}
		if (err != nil) != c.wantFail || !strings.Contains(string(out), c.want) || !strings.Contains(string(out), "java not found") {
			t.Errorf("CI=%q: exit error %v, want failure %v; output lacks %q or the reason:\n%s", c.ci, err, c.wantFail, c.want, out)
		}
		if strings.Contains(string(out), "child: StartDynamoDB returned") {
			t.Errorf("CI=%q: the child test went on after StartDynamoDB could not start:\n%s", c.ci, out)
		}
	}
}
