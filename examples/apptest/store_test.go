package apptest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/ddbenctest"
)

// TestWriteEastReadWest writes a customer in us-east-1 with the primary of
// a multi-Region key, lets the global table replicate it, and reads it in
// us-west-2 with the replica, in both item formats. It checks that the
// replicated item holds no plaintext email, that the reader called KMS in
// its own Region only, and that a reader with another key is refused.
func TestWriteEastReadWest(t *testing.T) {
	ctx := context.Background()
	env := ddbenctest.StartEnv(t) // DynamoDB Local + fake KMS + MRK (env.PrimaryARN, env.ReplicaARN)
	for _, format := range []ddbenc.Format{ddbenc.LegacyFormat, ddbenc.DBESDKFormat} {
		t.Run(format.String(), func(t *testing.T) {
			table := "Customers" + map[ddbenc.Format]string{ddbenc.LegacyFormat: "Legacy", ddbenc.DBESDKFormat: "DBESDK"}[format]
			env.StartGlobalTable(t, table, ddbenctest.Key{Name: "id", Type: types.ScalarAttributeTypeS}, ddbenctest.Key{})
			east, err := NewStore(env.DynamoDB(ddbenctest.East), env.KMSClient(ddbenctest.East), table, env.PrimaryARN, format)
			if err != nil {
				t.Fatal(err)
			}
			west, err := NewStore(env.DynamoDB(ddbenctest.West), env.KMSClient(ddbenctest.West), table, env.ReplicaARN, format)
			if err != nil {
				t.Fatal(err)
			}

			want := Customer{ID: "c-42", Email: "ada@example.com", Plan: "pro"}
			if err := east.Put(ctx, want); err != nil {
				t.Fatal(err)
			}
			stored := env.WaitForItem(t, ddbenctest.West, table, map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: want.ID}}, time.Minute, nil)
			if email, ok := stored["email"].(*types.AttributeValueMemberB); !ok || bytes.Contains(email.Value, []byte(want.Email)) {
				t.Fatalf("replicated email is %#v, want ciphertext", stored["email"])
			}

			mark := len(env.KMS.Calls())
			got, err := west.Get(ctx, want.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("us-west-2 read %+v, want %+v", got, want)
			}
			calls := env.KMS.Calls()[mark:]
			if len(calls) == 0 {
				t.Fatal("the us-west-2 reader made no KMS call")
			}
			for _, c := range calls {
				if c.Region != ddbenctest.West {
					t.Errorf("the us-west-2 reader called KMS %s in %s", c.Op, c.Region)
				}
			}

			other := env.KMS.CreateKey(ddbenctest.West, true)
			wrong, err := NewStore(env.DynamoDB(ddbenctest.West), env.KMSClient(ddbenctest.West), table, other, format)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := wrong.Get(ctx, want.ID); !errors.Is(err, ddbenc.ErrWrongKey) {
				t.Fatalf("a reader with another key: %v, want ddbenc.ErrWrongKey", err)
			}
		})
	}
}
