package ddbenctest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ddbec/ddbec-go/ddbenctest"
)

// TestStartEnv checks the two-Region world: the MRK's primary and replica
// are one key in two Regions, each Region's KMS client reaches its own, the
// call log records the Region, and a global table replicates both ways.
func TestStartEnv(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: not starting DynamoDB Local")
	}
	ctx := context.Background()
	env := ddbenctest.StartEnv(t)
	if !strings.Contains(env.PrimaryARN, ":us-east-1:") || !strings.Contains(env.ReplicaARN, ":us-west-2:") ||
		env.PrimaryARN[strings.LastIndex(env.PrimaryARN, "/"):] != env.ReplicaARN[strings.LastIndex(env.ReplicaARN, "/"):] {
		t.Fatalf("PrimaryARN %s and ReplicaARN %s are not one MRK in us-east-1 and us-west-2", env.PrimaryARN, env.ReplicaARN)
	}
	ct, err := env.KMSClient(ddbenctest.East).Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(env.PrimaryARN), Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	mark := len(env.KMS.Calls())
	if _, err := env.KMSClient(ddbenctest.West).Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(env.ReplicaARN), CiphertextBlob: ct.CiphertextBlob}); err != nil {
		t.Fatalf("the replica does not decrypt what the primary encrypted: %v", err)
	}
	if calls := env.KMS.Calls()[mark:]; len(calls) != 1 || calls[0].Region != ddbenctest.West || calls[0].Op != "Decrypt" {
		t.Fatalf("call log after one us-west-2 Decrypt: %+v", calls)
	}

	env.StartGlobalTable(t, "Global", ddbenctest.Key{Name: "pk", Type: types.ScalarAttributeTypeS}, ddbenctest.Key{})
	for _, dir := range [][2]string{{ddbenctest.East, ddbenctest.West}, {ddbenctest.West, ddbenctest.East}} {
		key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "from-" + dir[0]}}
		item := map[string]types.AttributeValue{"pk": key["pk"], "v": &types.AttributeValueMemberB{Value: []byte{1, 2, 3}}}
		if _, err := env.DynamoDB(dir[0]).PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("Global"), Item: item}); err != nil {
			t.Fatal(err)
		}
		got := env.WaitForItem(t, dir[1], "Global", key, time.Minute, nil)
		if b, ok := got["v"].(*types.AttributeValueMemberB); !ok || string(b.Value) != "\x01\x02\x03" {
			t.Fatalf("%s → %s: replicated %v", dir[0], dir[1], got)
		}
	}
	if err := env.ReplicationErr(); err != nil {
		t.Fatal(err)
	}
}
