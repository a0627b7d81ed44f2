package apptest

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/ddbenctest"
)

// The test shown in the README's "Testing your application" (keep them the same).
func TestEastWriteWestRead(t *testing.T) {
	ctx := context.Background()
	env := ddbenctest.StartEnv(t) // DynamoDB Local, fake KMS, an MRK: env.PrimaryARN (us-east-1), env.ReplicaARN (us-west-2)
	env.StartGlobalTable(t, "Customers", ddbenctest.Key{Name: "id", Type: types.ScalarAttributeTypeS}, ddbenctest.Key{})
	east, err := NewStore(env.DynamoDB(ddbenctest.East), env.KMSClient(ddbenctest.East), "Customers", env.PrimaryARN, ddbenc.DBESDKFormat)
	if err != nil {
		t.Fatal(err)
	}
	west, err := NewStore(env.DynamoDB(ddbenctest.West), env.KMSClient(ddbenctest.West), "Customers", env.ReplicaARN, ddbenc.DBESDKFormat)
	if err != nil {
		t.Fatal(err)
	}
	if err := east.Put(ctx, Customer{ID: "c-42", Email: "ada@example.com"}); err != nil {
		t.Fatal(err)
	}
	env.WaitForItem(t, ddbenctest.West, "Customers", map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "c-42"}}, time.Minute, nil)
	mark := len(env.KMS.Calls()) // the fake KMS's call log: every call, with its Region
	if got, err := west.Get(ctx, "c-42"); err != nil || got.Email != "ada@example.com" {
		t.Fatalf("us-west-2 read %+v, %v", got, err)
	}
	for _, c := range env.KMS.Calls()[mark:] {
		if c.Region != ddbenctest.West {
			t.Errorf("the us-west-2 reader called KMS %s in %s", c.Op, c.Region)
		}
	}
}
