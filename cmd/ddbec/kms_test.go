package main

import (
	"strings"
	"testing"

	"github.com/ddbec/ddbec-go/ddbenctest"
)

func TestKMSProviderMRK(t *testing.T) {
	fakeAWSEnv(t)
	fake := ddbenctest.StartKMS(t, ddbenctest.KMSOptions{Seed: []byte("cli")})
	kmsURL := fake.URL
	primary := fake.CreateKey("us-east-1", true)
	replica, err := fake.ReplicateKey(primary, "us-west-2")
	if err != nil {
		t.Fatal(err)
	}
	other := fake.CreateKey("us-west-2", true)

	common := []string{"--table", "Users", "--partition-key", "id", "--actions", acts, "--provider", "kms", "--kms-endpoint", kmsURL}
	enc, stderr, code := ddbec(t, item, append([]string{"encrypt", "--kms-key-arn", primary}, common...)...)
	if code != 0 {
		t.Fatalf("encrypt: exit %d: %s", code, stderr)
	}
	dec, stderr, code := ddbec(t, enc, append([]string{"decrypt", "--kms-key-arn", replica}, common...)...)
	if code != 0 || !strings.Contains(dec, secretPT) {
		t.Fatalf("decrypt with the replica: exit %d: %s", code, stderr)
	}
	calls := fake.Calls()
	if last := calls[len(calls)-1]; last.Op != "Decrypt" || last.Region != "us-west-2" || last.KeyID != replica {
		t.Errorf("last KMS call %+v; want Decrypt in us-west-2 with the replica ARN", last)
	}
	// Another key: verification/decryption failure, nothing on stdout.
	dec, stderr, code = ddbec(t, enc, append([]string{"decrypt", "--kms-key-arn", other}, common...)...)
	if code != 1 || dec != "" || !strings.Contains(stderr, "wrong key") {
		t.Errorf("decrypt with another key: exit %d, stdout %q, stderr %q", code, dec, stderr)
	}
	// Discovery mode with this account accepts it; with another it does not.
	disc := append([]string{"decrypt", "--kms-key-arn", other, "--kms-mode", "discovery"}, common...)
	if _, stderr, code := ddbec(t, enc, append(disc, "--kms-discovery-accounts", "111122223333")...); code != 0 {
		t.Errorf("discovery, account allowed: exit %d: %s", code, stderr)
	}
	if _, _, code := ddbec(t, enc, append(disc, "--kms-discovery-accounts", "999999999999")...); code != 1 {
		t.Errorf("discovery, account refused: exit %d", code)
	}
	// Usage errors.
	if _, _, code := ddbec(t, item, "encrypt", "--table", "T", "--partition-key", "id", "--provider", "kms"); code != 2 {
		t.Errorf("kms without --kms-key-arn: exit %d", code)
	}
	if _, _, code := ddbec(t, item, "encrypt", "--table", "T", "--partition-key", "id", "--provider", "kms", "--kms-key-arn", "alias/x"); code != 2 {
		t.Errorf("kms with an alias: exit %d", code)
	}
}

// fakeAWSEnv gives the SDK static test credentials and no shared config or
// instance metadata, for tests against the fake KMS.
func fakeAWSEnv(t *testing.T) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFAKEKMS")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "fake-secret")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_PROFILE", "")
}
