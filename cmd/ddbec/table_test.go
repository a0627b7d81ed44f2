package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/ddbenctest"
	"github.com/ddbec/ddbec-go/internal/ddbjson"
	"github.com/ddbec/ddbec-go/tablejob"
)

// TestTableJobProcesses runs whole-table jobs through the CLI as separate
// processes against DynamoDB Local: two workers encrypt a plaintext table,
// a re-run of the finished job reads nothing, verify passes under the key
// and fails under another, reencrypt moves every item to a new key, and
// migrate moves legacy items to the DB-ESDK format.
func TestTableJobProcesses(t *testing.T) {
	inst := ddbenctest.StartDynamoDB(t)
	fakeAWSEnv(t)
	ctx := context.Background()
	// DynamoDB Local keeps one database per access key and Region: the
	// test's client uses the CLI processes' credentials (fakeAWSEnv).
	ddb := inst.Client("us-east-1", func(o *dynamodb.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider("AKIDFAKEKMS", "fake-secret", "")
	})
	const n = 120
	newTable := func(name string, items func(i int) map[string]types.AttributeValue) {
		t.Helper()
		if err := ddbenctest.CreateTable(ctx, ddb, name, ddbenctest.Key{Name: "customer_id", Type: types.ScalarAttributeTypeS}, ddbenctest.Key{}, false); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name), Item: items(i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	plain := func(i int) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{
			"customer_id": &types.AttributeValueMemberS{Value: fmt.Sprintf("c-%03d", i)},
			"email":       &types.AttributeValueMemberS{Value: fmt.Sprintf("user%d@example.com", i)},
			"plan":        &types.AttributeValueMemberS{Value: "pro"},
		}
	}
	newTable("Customers", plain)

	const keys = "../../testdata/vectors/dbesdk/keys.json"
	item := []string{"--table", "Customers", "--partition-key", "customer_id", "--actions", `{"default":"encrypt_and_sign","attributes":{"customer_id":"sign_only","plan":"sign_only"}}`}
	dbe := func(ns string) []string {
		return append(append([]string{}, item...), "--format", "dbesdk", "--keyring", "raw-aes", "--keys", keys, "--key", "aes-256", "--key-namespace", ns)
	}
	job := func(id string, extra ...string) []string {
		return append([]string{"--job-id", id, "--checkpoint-table", "Jobs", "--dynamodb-endpoint", inst.Endpoint, "--region", "us-east-1", "--progress", "lines"}, extra...)
	}
	table := func(sub string, args ...[]string) (jobReport, string, int) {
		t.Helper()
		all := []string{"table", sub}
		for _, a := range args {
			all = append(all, a...)
		}
		out, stderr, code := cliProcess(t, "", all...)
		var r jobReport
		if code == exitUsage {
			t.Logf("table %s: usage error: %s", sub, stderr)
		} else {
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("table %s: exit %d, report %q: %v\nstderr: %s", sub, code, out, err, stderr)
			}
		}
		return r, stderr, code
	}

	if out, stderr, code := cliProcess(t, "", "table", "create-checkpoint-table", "--checkpoint-table", "Jobs", "--dynamodb-endpoint", inst.Endpoint, "--region", "us-east-1"); code != 0 || strings.TrimSpace(out) != "Jobs" {
		t.Fatalf("create-checkpoint-table: exit %d, %q, %s", code, out, stderr)
	}

	// Two workers share 4 segments.
	var wg sync.WaitGroup
	reps := make([]jobReport, 2)
	codes := make([]int, 2)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var stderr string
			reps[w], stderr, codes[w] = table("encrypt", dbe("my-app"), job("enc-1", "--segments", "4", "--worker", fmt.Sprintf("%d/2", w)))
			if codes[w] != 0 {
				t.Logf("worker %d: %s", w, stderr)
			}
		}()
	}
	wg.Wait()
	if codes[0] != 0 || codes[1] != 0 || reps[0].Transformed+reps[1].Transformed != n || reps[0].Read+reps[1].Read != n {
		t.Fatalf("encrypt by two workers: exit %v, reports %+v", codes, reps)
	}
	if segs := len(reps[0].Segments) + len(reps[1].Segments); segs != 4 {
		t.Errorf("the workers completed %d segments, want 4", segs)
	}
	stored, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("Customers"), Key: map[string]types.AttributeValue{"customer_id": &types.AttributeValueMemberS{Value: "c-007"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := stored.Item["email"].(*types.AttributeValueMemberB); !ok || stored.Item["aws_dbe_head"] == nil {
		t.Fatalf("after encrypt the stored item is %v, want encrypted email and a header", stored.Item)
	}

	// A finished job does nothing when run again.
	if r, stderr, code := table("encrypt", dbe("my-app"), job("enc-1", "--segments", "4")); code != 0 || r.Read != 0 {
		t.Errorf("re-run of a finished job: exit %d, %+v, %s", code, r, stderr)
	}
	// Every item verifies under the key; under another key every item fails.
	if r, stderr, code := table("verify", dbe("my-app"), job("verify-1", "--segments", "2")); code != 0 || r.Verified != n {
		t.Errorf("verify: exit %d, %+v, %s", code, r, stderr)
	}
	if r, _, code := table("verify", dbe("other-app"), job("verify-2", "--segments", "2")); code != exitVerify || r.Failed != n || len(r.FailedKeys) != n {
		t.Errorf("verify under another key: exit %d, failed %d, %d keys", code, r.Failed, len(r.FailedKeys))
	} else if strings.Contains(strings.Join(r.Errors, " "), "example.com") {
		t.Errorf("the report's errors contain attribute values: %q", r.Errors)
	}

	// Re-encrypt under a new key namespace (another key, as far as the
	// keyring is concerned).
	srcFlags := `--actions {"default":"encrypt_and_sign","attributes":{"customer_id":"sign_only","plan":"sign_only"}} --format dbesdk --keyring raw-aes --keys ` + keys + " --key aes-256 --key-namespace my-app"
	if r, stderr, code := table("reencrypt", dbe("new-app"), job("reenc-1", "--segments", "3", "--source", srcFlags)); code != 0 || r.Transformed != n {
		t.Fatalf("reencrypt: exit %d, %+v, %s", code, r, stderr)
	}
	if r, stderr, code := table("verify", dbe("new-app"), job("verify-3")); code != 0 || r.Verified != n {
		t.Errorf("verify under the new key: exit %d, %+v, %s", code, r, stderr)
	}
	if r, _, code := table("verify", dbe("my-app"), job("verify-4")); code != exitVerify || r.Failed != n {
		t.Errorf("verify under the old key after reencrypt: exit %d, failed %d", code, r.Failed)
	}

	// Migrate: legacy items (written by "ddbec encrypt" with static keys)
	// to the DB-ESDK format.
	const legacyKeys = "../../testdata/vectors/legacy/encrypted_item/keys.json"
	legacyFlags := []string{"--keys", legacyKeys, "--provider", "static", "--encryption-key", "aesKey", "--signing-key", "hmacKey"}
	legacyItem := append([]string{"--table", "Legacy", "--partition-key", "customer_id", "--actions", `{"default":"encrypt_and_sign","attributes":{"customer_id":"sign_only","plan":"sign_only"}}`}, legacyFlags...)
	newTable("Legacy", func(i int) map[string]types.AttributeValue {
		in, _ := json.Marshal(map[string]any{"customer_id": map[string]string{"S": fmt.Sprintf("c-%03d", i)}, "email": map[string]string{"S": "x@example.com"}, "plan": map[string]string{"S": "pro"}})
		out, stderr, code := cliProcess(t, string(in), append([]string{"encrypt"}, legacyItem...)...)
		if code != 0 {
			t.Fatalf("legacy encrypt: exit %d: %s", code, stderr)
		}
		it, err := ddbjson.UnmarshalItem([]byte(out))
		if err != nil {
			t.Fatal(err)
		}
		return it
	})
	dbeLegacy := func() []string {
		f := dbe("my-app")
		f[1] = "Legacy"
		return f
	}
	if r, stderr, code := table("migrate", dbeLegacy(), job("mig-1", "--segments", "2", "--source", strings.Join(legacyFlags, " "))); code != 0 || r.Transformed != n {
		t.Fatalf("migrate: exit %d, transformed %d, failed %d, %.500s", code, r.Transformed, r.Failed, stderr)
	}
	if r, stderr, code := table("verify", dbeLegacy(), job("verify-5")); code != 0 || r.Verified != n {
		t.Errorf("verify after migrate: exit %d, %+v, %s", code, r, stderr)
	}
	stored, err = ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("Legacy"), Key: map[string]types.AttributeValue{"customer_id": &types.AttributeValueMemberS{Value: "c-001"}}})
	if err != nil {
		t.Fatal(err)
	}
	if stored.Item["*amzn-ddb-map-sig*"] != nil || stored.Item["aws_dbe_head"] == nil {
		t.Errorf("after migrate the stored item has attributes %v, want the DB-ESDK ones only", keysOf(stored.Item))
	}
}

func keysOf(m map[string]types.AttributeValue) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestTableUsage: flag errors exit 2 before anything is sent.
func TestTableUsage(t *testing.T) {
	base := []string{"--table", "T", "--partition-key", "pk", "--region", "us-east-1", "--dynamodb-endpoint", "http://127.0.0.1:1"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"table"}, "Whole-table jobs"},
		{[]string{"table", "nosuch"}, "unknown command"},
		{append([]string{"table", "encrypt"}, base...), "--job-id and --checkpoint-table are required"},
		{append([]string{"table", "encrypt", "--job-id", "j", "--checkpoint-table", "c", "--worker", "4/4"}, base...), "i must be a number from 0 to 3"},
		{append([]string{"table", "encrypt", "--job-id", "j", "--checkpoint-table", "c", "--worker", "4"}, base...), "want i/W"},
		{append([]string{"table", "reencrypt", "--job-id", "j", "--checkpoint-table", "c"}, base...), "needs --source"},
		{append([]string{"table", "encrypt", "--job-id", "j", "--checkpoint-table", "c", "--source", "--format dbesdk"}, base...), "only for reencrypt and migrate"},
		{append([]string{"table", "migrate", "--job-id", "j", "--checkpoint-table", "c", "--source", "--provider static"}, base...), "--format dbesdk"},
		{append([]string{"table", "verify", "--job-id", "j", "--checkpoint-table", "c", "--progress", "loud"}, base...), "--progress must be"},
		{[]string{"table", "create-checkpoint-table"}, "--checkpoint-table is required"},
		{append([]string{"table", "reencrypt", "--job-id", "j", "--checkpoint-table", "c", "--keys", "k.json", "--source", "--nosuch x"}, base...), "--source: flag provided but not defined"},
		{append([]string{"table", "reencrypt", "--job-id", "j", "--checkpoint-table", "c", "--keys", "k.json", "--source", "--format legacy stray"}, base...), "--source: unexpected arguments"},
	} {
		var out, errb strings.Builder
		if code := run(c.args, strings.NewReader(""), &out, &errb); code != exitUsage || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%q: exit %d, stderr %q, want exit 2 and %q", c.args, code, errb.String(), c.want)
		}
	}
}

func TestParseWorker(t *testing.T) {
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	if i, w, err := parseWorker("2/5", get); err != nil || i != 2 || w != 5 {
		t.Errorf("2/5: %d %d %v", i, w, err)
	}
	if _, _, err := parseWorker("auto/4", get); err == nil {
		t.Error("auto/4 without an index variable accepted")
	}
	env["JOB_COMPLETION_INDEX"] = "3"
	if i, w, err := parseWorker("auto/4", get); err != nil || i != 3 || w != 4 {
		t.Errorf("auto/4 with JOB_COMPLETION_INDEX=3: %d %d %v", i, w, err)
	}
	env["AWS_BATCH_JOB_ARRAY_INDEX"] = "1"
	if _, _, err := parseWorker("auto/4", get); err == nil {
		t.Error("auto/4 with both index variables accepted")
	}
	delete(env, "JOB_COMPLETION_INDEX")
	if i, _, err := parseWorker("auto/4", get); err != nil || i != 1 {
		t.Errorf("auto/4 with AWS_BATCH_JOB_ARRAY_INDEX=1: %d %v", i, err)
	}
	for _, bad := range []string{"", "1", "a/2", "1/0", "-1/2", "2/2"} {
		if _, _, err := parseWorker(bad, get); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestProgressPrinter(t *testing.T) {
	var b strings.Builder
	p := newProgressPrinter("bar", &b)
	p.total = 100
	p.update(tablejob.Progress{Read: 50, Transformed: 50, ItemsPerSecond: 10})
	p.done()
	if got := b.String(); !strings.Contains(got, "[##########..........]") || !strings.Contains(got, "ETA 5s") || !strings.HasSuffix(got, "\n") {
		t.Errorf("bar: %q", got)
	}
	b.Reset()
	now := time.Unix(0, 0)
	p = newProgressPrinter("lines", &b)
	p.now = func() time.Time { return now }
	p.update(tablejob.Progress{Read: 1})
	p.update(tablejob.Progress{Read: 2}) // within 10 s: not printed
	now = now.Add(11 * time.Second)
	p.update(tablejob.Progress{Read: 3})
	if got := strings.Count(b.String(), "\n"); got != 2 || strings.Contains(b.String(), "read 2 ") {
		t.Errorf("lines: %q", b.String())
	}
	b.Reset()
	newProgressPrinter("none", &b).update(tablejob.Progress{Read: 1})
	if b.Len() != 0 || newProgressPrinter("loud", &b) != nil {
		t.Errorf("none printed %q, or an unknown mode was accepted", b.String())
	}
}
