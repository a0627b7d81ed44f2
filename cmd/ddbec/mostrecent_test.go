package main

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ddbec/ddbec-go/ddbenctest"
	"github.com/ddbec/ddbec-go/provider"
)

func TestMostRecentProvider(t *testing.T) {
	ctx := context.Background()
	inst := ddbenctest.StartDynamoDB(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDLOCAL")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local-secret")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	fake := ddbenctest.StartKMS(t, ddbenctest.KMSOptions{Seed: []byte("cli-mr")})
	kmsURL := fake.URL
	key := fake.CreateKey("us-east-1", true)
	if err := provider.CreateMetaStoreTable(ctx, inst.Client("us-east-1"), "CLIMeta"); err != nil {
		t.Fatal(err)
	}
	args := []string{"--table", "Users", "--partition-key", "id", "--actions", acts, "--provider", "most-recent",
		"--kms-key-arn", key, "--kms-endpoint", kmsURL, "--metastore-table", "CLIMeta", "--material-name", "users",
		"--dynamodb-endpoint", inst.Endpoint, "--jsonl"}
	in := item + "\n" + strings.Replace(item, "user-1", "user-2", 1) + "\n"
	enc, stderr, code := ddbec(t, in, append([]string{"encrypt"}, args...)...)
	if code != 0 {
		t.Fatalf("encrypt: exit %d: %s", code, stderr)
	}
	if !strings.Contains(enc, "*amzn-ddb-map-desc*") {
		t.Fatalf("not encrypted: %s", enc)
	}
	dec, stderr, code := ddbec(t, enc, append([]string{"decrypt"}, args...)...)
	if code != 0 || strings.Count(dec, secretPT) != 2 {
		t.Fatalf("decrypt: exit %d: %s", code, stderr)
	}
	out, err := inst.Client("us-east-1").Scan(ctx, &dynamodb.ScanInput{TableName: strPtr("CLIMeta")})
	if err != nil || len(out.Items) != 1 {
		t.Fatalf("metastore has %d versions, want 1 (%v)", len(out.Items), err)
	}
	if n := fake.Count("GenerateDataKey") + fake.Count("Decrypt"); n > 4 {
		t.Errorf("%d KMS calls for two invocations of two items each; want at most one per invocation and version", n)
	}
	if _, _, code := ddbec(t, item, "encrypt", "--table", "T", "--partition-key", "id", "--provider", "most-recent", "--kms-key-arn", key); code != 2 {
		t.Errorf("most-recent without --metastore-table: exit %d", code)
	}
}

func strPtr(s string) *string { return &s }
