package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ddbec/ddbec-go/ddbenctest"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/internal/ddbjson"
)

// envRunMain makes the test binary run the CLI instead of the tests, so that
// a test can start the CLI as a separate process (cliProcess).
const envRunMain = "DDBEC_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// cliProcess runs the CLI (this test binary with envRunMain set: the same
// main as bin/ddbec) in a new process with the test's environment.
func cliProcess(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), envRunMain+"=1")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("running %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// TestHierarchyKeyStoreProcesses is the interop proof through the CLI: a key
// store made by "ddbec keystore" in DynamoDB Local, read back by the
// hierarchical keyring of other ddbec processes (nothing shared but the
// table and KMS): encrypt in one process, decrypt in another; rotate, and
// both the old and the new items decrypt; describe shows the versions; a
// wrong branch key id, KMS key or logical name is refused (exit 1, nothing
// on stdout).
func TestHierarchyKeyStoreProcesses(t *testing.T) {
	inst := ddbenctest.StartDynamoDB(t)
	fakeAWSEnv(t)
	fake := ddbenctest.StartKMS(t, ddbenctest.KMSOptions{Seed: []byte("cli-hierarchy")})
	kmsURL := fake.URL
	key := fake.CreateKey("us-east-1", true)
	otherKey := fake.CreateKey("us-east-1", true)

	aws := []string{"--key-store-table", "KeyStore", "--kms-endpoint", kmsURL, "--dynamodb-endpoint", inst.Endpoint}
	ks := func(cmd string, args ...string) (string, string, int) {
		return cliProcess(t, "", append(append([]string{"keystore", cmd}, aws...), args...)...)
	}
	mustKS := func(cmd string, args ...string) string {
		t.Helper()
		out, stderr, code := ks(cmd, args...)
		if code != 0 {
			t.Fatalf("keystore %s: exit %d: %s", cmd, code, stderr)
		}
		return strings.TrimSpace(out)
	}
	for range 2 { // an existing table with the schema is accepted
		if out := mustKS("create-table", "--region", "us-east-1"); out != "KeyStore" {
			t.Errorf("create-table printed %q", out)
		}
	}
	id := mustKS("create-key", "--kms-key-arn", key, "--encryption-context", "tenant=acme")
	if !uuidRE.MatchString(id) {
		t.Fatalf("create-key printed %q, want a UUID", id)
	}
	if out, stderr, code := ks("create-key", "--kms-key-arn", key, "--branch-key-id", id); code != 1 || out != "" || !strings.Contains(stderr, "already exists") {
		t.Errorf("create-key of an existing id: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	describe := func() keyInfoJSON {
		t.Helper()
		out := mustKS("describe", "--branch-key-id", id, "--region", "us-east-1")
		if strings.Contains(out, `"enc"`) {
			t.Errorf("describe shows enc: %s", out)
		}
		var info keyInfoJSON
		if err := json.Unmarshal([]byte(out), &info); err != nil {
			t.Fatalf("describe printed %q: %v", out, err)
		}
		return info
	}
	info := describe()
	if info.BranchKeyID != id || len(info.Versions) != 1 || info.ActiveVersion != info.Versions[0].Version || !info.Versions[0].Active ||
		info.Versions[0].KMSARN != key || info.Versions[0].CreateTime == "" || !info.HasBeacon || info.EncryptionContext["tenant"] != "acme" {
		t.Fatalf("describe after create-key: %+v", info)
	}
	v1 := info.ActiveVersion

	table := []string{"--format", "dbesdk", "--table", "Users", "--partition-key", "id", "--actions", dbeActs, "--allowed-unsigned", "note",
		"--keyring", "hierarchy", "--kms-key-arn", key, "--branch-key-id", id}
	hier := append(slices.Clone(table), aws...)
	two := dbeItem + "\n" + strings.Replace(dbeItem, "user-1", "user-2", 1) + "\n"
	encrypt := func(in string) string {
		t.Helper()
		fake.Reset()
		out, stderr, code := cliProcess(t, in, append([]string{"encrypt", "--jsonl"}, hier...)...)
		if code != 0 {
			t.Fatalf("encrypt: exit %d: %s", code, stderr)
		}
		if strings.Contains(out, secretPT) || strings.Count(out, `"aws_dbe_head"`) != 2 {
			t.Fatalf("encrypt output: %s", out)
		}
		// The branch key cache: one KMS Decrypt for two items.
		if n := fake.Count("Decrypt"); n != 1 {
			t.Errorf("encrypt of two items called KMS Decrypt %d times, want 1 (the branch key cache)", n)
		}
		return out
	}
	decrypt := func(stored, want string) {
		t.Helper()
		out, stderr, code := cliProcess(t, stored, append([]string{"decrypt", "--jsonl"}, hier...)...)
		if code != 0 {
			t.Fatalf("decrypt: exit %d: %s", code, stderr)
		}
		gotLines, wantLines := strings.Split(strings.TrimSpace(out), "\n"), strings.Split(strings.TrimSpace(want), "\n")
		if len(gotLines) != len(wantLines) {
			t.Fatalf("decrypt printed %d items, want %d", len(gotLines), len(wantLines))
		}
		for i := range wantLines {
			w, _ := ddbjson.UnmarshalItem([]byte(wantLines[i]))
			g, err := ddbjson.UnmarshalItem([]byte(gotLines[i]))
			if err != nil {
				t.Fatal(err)
			}
			if diff := avtest.DiffItems(w, g); diff != "" {
				t.Errorf("item %d (-want +got):\n%s", i, diff)
			}
		}
	}
	old := encrypt(two)
	decrypt(old, two)

	v2 := mustKS("version-key", "--kms-key-arn", key, "--branch-key-id", id)
	if !uuidRE.MatchString(v2) || v2 == v1 {
		t.Fatalf("version-key printed %q (first version %s)", v2, v1)
	}
	info = describe()
	var versions []string
	for _, v := range info.Versions {
		versions = append(versions, v.Version)
		if v.Active != (v.Version == v2) || v.KMSARN != key {
			t.Errorf("describe after version-key: version %+v", v)
		}
	}
	slices.Sort(versions)
	want := []string{v1, v2}
	slices.Sort(want)
	if info.ActiveVersion != v2 || !slices.Equal(versions, want) {
		t.Fatalf("describe after version-key: active %s, versions %v; want %s and %v", info.ActiveVersion, versions, v2, want)
	}
	fresh := encrypt(two)
	decrypt(old+fresh, two+two)
	fake.Reset()
	if _, stderr, code := cliProcess(t, old+fresh, append([]string{"decrypt", "--jsonl"}, hier...)...); code != 0 {
		t.Fatalf("decrypt old and new: exit %d: %s", code, stderr)
	}
	if n := fake.Count("Decrypt"); n != 2 {
		t.Errorf("decrypt of items under two versions called KMS Decrypt %d times, want 2", n)
	}

	// Refusals: exit 1, nothing on stdout, no plaintext anywhere.
	refuse := func(name, cmd, stdin string, args []string, why string) {
		t.Helper()
		out, stderr, code := cliProcess(t, stdin, append(append([]string{cmd, "--jsonl"}, hier...), args...)...)
		if code != 1 || out != "" || strings.Contains(stderr, secretPT) || !strings.Contains(stderr, why) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 1, nothing, %q", name, code, out, stderr, why)
		}
	}
	refuse("decrypt, another branch key id", "decrypt", old, []string{"--branch-key-id", "no-such-key"}, "no encrypted data key matches")
	refuse("encrypt, unknown branch key id", "encrypt", two, []string{"--branch-key-id", "no-such-key"}, "no-such-key")
	refuse("decrypt, another KMS key", "decrypt", old, []string{"--kms-key-arn", otherKey}, "kms-arn")
	refuse("decrypt, strict mode and another KMS key", "decrypt", old, []string{"--kms-key-arn", otherKey, "--key-store-kms-mode", "strict"}, "is not the configured key")
	refuse("decrypt, another logical name", "decrypt", fresh, []string{"--key-store-logical-name", "Other"}, "KeyStore")
	// Discovery reads the key each item names.
	disc := append(slices.DeleteFunc(slices.Clone(hier), func(s string) bool { return s == key }), "--key-store-kms-mode", "discovery", "--region", "us-east-1")
	disc = slices.DeleteFunc(disc, func(s string) bool { return s == "--kms-key-arn" })
	if _, stderr, code := cliProcess(t, old, append([]string{"decrypt", "--jsonl"}, disc...)...); code != 0 {
		t.Errorf("decrypt in discovery mode: exit %d: %s", code, stderr)
	}

	// keystore runtime failures: exit 1.
	for name, args := range map[string][]string{
		"describe unknown id":    {"describe", "--branch-key-id", "no-such-key", "--kms-key-arn", key},
		"version-key unknown id": {"version-key", "--kms-key-arn", key, "--branch-key-id", "no-such-key"},
		"version-key, other key": {"version-key", "--kms-key-arn", otherKey, "--key-store-kms-mode", "strict", "--branch-key-id", id},
		"describe, no table":     {"describe", "--branch-key-id", id, "--key-store-table", "NoSuchTable", "--region", "us-east-1"},
	} {
		if out, stderr, code := ks(args[0], args[1:]...); code != 1 || out != "" || stderr == "" {
			t.Errorf("keystore %s: exit %d, stdout %q, stderr %q; want 1", name, code, out, stderr)
		}
	}
	if info := describe(); len(info.Versions) != 2 || info.ActiveVersion != v2 {
		t.Errorf("the failed version-key changed the key: %+v", info)
	}
}

// TestHierarchyUsageErrors: missing and misplaced flags are usage errors
// (exit 2, a message naming the flag, nothing on stdout), before any I/O.
func TestHierarchyUsageErrors(t *testing.T) {
	fakeAWSEnv(t)
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	const arn = "arn:aws:kms:us-east-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef"
	base := []string{"--format", "dbesdk", "--table", "T", "--partition-key", "id", "--actions", dbeActs, "--allowed-unsigned", "note", "--keyring", "hierarchy"}
	full := append(slices.Clone(base), "--key-store-table", "KS", "--branch-key-id", "b", "--kms-key-arn", arn)
	with := func(cmd string, args []string, more ...string) []string {
		return append(append([]string{cmd}, args...), more...)
	}
	keys, _ := dbesdkKeys(t)
	aes := []string{"--format", "dbesdk", "--table", "T", "--partition-key", "id", "--actions", dbeActs, "--allowed-unsigned", "note",
		"--keyring", "raw-aes", "--keys", keys, "--key", "aes-256", "--key-namespace", "ns"}
	cases := map[string]struct {
		args []string
		want string
	}{
		"no key store table":         {with("encrypt", base, "--branch-key-id", "b", "--kms-key-arn", arn), "--key-store-table"},
		"no branch key id":           {with("decrypt", base, "--key-store-table", "KS", "--kms-key-arn", arn), "--branch-key-id"},
		"no KMS key":                 {with("encrypt", base, "--key-store-table", "KS", "--branch-key-id", "b"), "--kms-key-arn"},
		"alias as KMS key":           {with("encrypt", base, "--key-store-table", "KS", "--branch-key-id", "b", "--kms-key-arn", "arn:aws:kms:us-east-1:111122223333:alias/x"), "key ARN"},
		"bad KMS mode":               {with("encrypt", full, "--key-store-kms-mode", "loose"), "--key-store-kms-mode"},
		"discovery with a key":       {with("decrypt", full, "--key-store-kms-mode", "discovery"), "takes no --kms-key-arn"},
		"zero cache TTL":             {with("encrypt", full, "--cache-ttl", "0s"), "--cache-ttl"},
		"raw key flag for hierarchy": {with("encrypt", full, "--key-namespace", "ns"), "--key-namespace"},
		"key store flag for raw-aes": {with("encrypt", aes, "--key-store-table", "KS"), "--key-store-table"},
		"ddb endpoint for raw-aes":   {with("encrypt", aes, "--dynamodb-endpoint", "http://127.0.0.1:1"), "--dynamodb-endpoint"},
		"key store flag in legacy":   {[]string{"encrypt", "--table", "T", "--partition-key", "id", "--keys", keysFile(t), "--encryption-key", "aesKey", "--signing-key", "hmacKey", "--branch-key-id", "b"}, "--branch-key-id"},

		"keystore, no command":             {[]string{"keystore"}, "usage"},
		"keystore, unknown command":        {[]string{"keystore", "rotate"}, `"rotate"`},
		"create-table, no table":           {[]string{"keystore", "create-table", "--region", "us-east-1"}, "--key-store-table"},
		"create-table, no region":          {[]string{"keystore", "create-table", "--key-store-table", "KS"}, "--region"},
		"create-key, no table":             {[]string{"keystore", "create-key", "--kms-key-arn", arn}, "--key-store-table"},
		"create-key, no KMS key":           {[]string{"keystore", "create-key", "--key-store-table", "KS"}, "--kms-key-arn"},
		"create-key, bad context":          {[]string{"keystore", "create-key", "--key-store-table", "KS", "--kms-key-arn", arn, "--encryption-context", "novalue"}, "KEY=VALUE"},
		"create-key, empty context key":    {[]string{"keystore", "create-key", "--key-store-table", "KS", "--kms-key-arn", arn, "--encryption-context", "=v"}, "KEY=VALUE"},
		"create-key, duplicate context":    {[]string{"keystore", "create-key", "--key-store-table", "KS", "--kms-key-arn", arn, "--encryption-context", "a=1", "--encryption-context", "a=2"}, "twice"},
		"create-key, discovery":            {[]string{"keystore", "create-key", "--key-store-table", "KS", "--key-store-kms-mode", "discovery"}, "cannot write"},
		"version-key, no branch key id":    {[]string{"keystore", "version-key", "--key-store-table", "KS", "--kms-key-arn", arn}, "--branch-key-id"},
		"describe, no branch key id":       {[]string{"keystore", "describe", "--key-store-table", "KS"}, "--branch-key-id"},
		"describe, extra argument":         {[]string{"keystore", "describe", "--key-store-table", "KS", "--branch-key-id", "b", "extra"}, "unexpected"},
		"create-table, context flag":       {[]string{"keystore", "create-table", "--key-store-table", "KS", "--encryption-context", "a=b"}, "encryption-context"},
		"create-table, branch key id flag": {[]string{"keystore", "create-table", "--key-store-table", "KS", "--branch-key-id", "b"}, "branch-key-id"},
	}
	for name, c := range cases {
		out, stderr, code := ddbec(t, dbeItem, c.args...)
		if code != 2 || out != "" || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 2, nothing, %q", name, code, out, stderr, c.want)
		}
	}
	if out, _, code := ddbec(t, "", "keystore", "help"); code != 0 || !strings.Contains(out, "create-table") {
		t.Errorf("keystore help: exit %d, %q", code, out)
	}
}
