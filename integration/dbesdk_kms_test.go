package integration_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/ddbenctest"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/keyring"
)

// dbesdkEncryptor returns a DB-ESDK format Encryptor for table with kr.
func dbesdkEncryptor(t *testing.T, table string, kr ddbenc.Keyring) *ddbenc.Encryptor {
	t.Helper()
	e, err := ddbenc.NewEncryptor(ddbenc.TableConfig{
		TableName: table, PartitionKey: "pk", SortKey: "sk", Format: ddbenc.DBESDKFormat, Keyring: kr,
		Actions: actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{
			"status": actions.SignOnly, "pageviews": actions.DoNothing,
		}},
		AllowedUnsignedAttributes: []string{"pageviews"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestDBESDKKMSGlobalTable writes DB-ESDK items with the KMS MRK keyring in
// one Region of a global table, through the plain client, and reads them in
// the other Region with that Region's replica ARN (and with the MRK discovery
// keyring): every KMS call of the reader stays in the reader's Region.
func TestDBESDKKMSGlobalTable(t *testing.T) {
	need(t)
	ctx := context.Background()
	table := fmt.Sprintf("dbesdkglobal%d", tableSeq.Add(1))
	if err := env.CreateGlobalTable(ctx, table, ddbenctest.Key{Name: "pk", Type: types.ScalarAttributeTypeS}, ddbenctest.Key{Name: "sk", Type: types.ScalarAttributeTypeN}); err != nil {
		t.Fatal(err)
	}
	mrk := func(region, arn string) *keyring.KMSMRK {
		kr, err := keyring.NewKMSMRK(env.KMSClient(region), arn)
		if err != nil {
			t.Fatal(err)
		}
		return kr
	}
	arnOf := map[string]string{ddbenctest.East: env.PrimaryARN, ddbenctest.West: env.ReplicaARN}
	for _, d := range []struct{ from, to string }{{ddbenctest.East, ddbenctest.West}, {ddbenctest.West, ddbenctest.East}} {
		name := d.from + " to " + d.to
		want := item(name, 1, "pii for "+name)

		before := len(env.KMS.Calls())
		stored, err := dbesdkEncryptor(t, table, mrk(d.from, arnOf[d.from])).EncryptItem(ctx, want)
		if err != nil {
			t.Fatalf("%s: EncryptItem: %v", name, err)
		}
		for _, c := range env.KMS.Calls()[before:] {
			if c.Region != d.from || c.Op != "GenerateDataKey" || c.KeyID != arnOf[d.from] {
				t.Errorf("%s: writer called KMS %s in %s with %s", name, c.Op, c.Region, c.KeyID)
			}
		}
		if _, ok := stored["aws_dbe_head"]; !ok {
			t.Fatalf("%s: stored item has no aws_dbe_head", name)
		}
		if _, ok := stored["secret"].(*types.AttributeValueMemberB); !ok {
			t.Fatalf("%s: secret stored as %T", name, stored["secret"])
		}
		if _, err := env.DynamoDB(d.from).PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: stored}); err != nil {
			t.Fatalf("%s: PutItem: %v", name, err)
		}
		if _, err := ddbenctest.WaitForItem(ctx, env.DynamoDB(d.to), table, keyOf(name, 1), 30*time.Second, nil); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := env.DynamoDB(d.to).GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf(name, 1)})
		if err != nil || got.Item == nil {
			t.Fatalf("%s: GetItem: %v, %v", name, got, err)
		}

		discovery, err := keyring.NewKMSMRKDiscovery(env.KMSClient(d.to), d.to, &keyring.DiscoveryFilter{Partition: "aws", Accounts: []string{"111122223333"}})
		if err != nil {
			t.Fatal(err)
		}
		for rname, kr := range map[string]ddbenc.Keyring{"MRK keyring": mrk(d.to, arnOf[d.to]), "MRK discovery keyring": discovery} {
			before := len(env.KMS.Calls())
			plain, err := dbesdkEncryptor(t, table, kr).DecryptItem(ctx, got.Item)
			if err != nil {
				t.Fatalf("%s, %s: DecryptItem: %v", name, rname, err)
			}
			if diff := avtest.DiffItems(want, plain); diff != "" {
				t.Errorf("%s, %s (-want +got):\n%s", name, rname, diff)
			}
			calls := env.KMS.Calls()[before:]
			if len(calls) != 1 {
				t.Errorf("%s, %s: reader made %d KMS calls, want 1 Decrypt", name, rname, len(calls))
			}
			for _, c := range calls {
				if c.Region != d.to || c.Op != "Decrypt" || c.KeyID != arnOf[d.to] {
					t.Errorf("%s, %s: reader called KMS %s in %s with KeyId %s; want Decrypt in %s with %s", name, rname, c.Op, c.Region, c.KeyID, d.to, arnOf[d.to])
				}
			}
		}

		// The strict keyring on the reader's replica needs the writer's exact
		// ARN: it finds no EDK and calls nothing.
		strict, err := keyring.NewKMS(env.KMSClient(d.to), arnOf[d.to])
		if err != nil {
			t.Fatal(err)
		}
		before = len(env.KMS.Calls())
		if _, err := dbesdkEncryptor(t, table, strict).DecryptItem(ctx, got.Item); !errors.Is(err, ddbenc.ErrWrongKey) {
			t.Errorf("%s: strict keyring on the reader's replica: %v, want ErrWrongKey", name, err)
		}
		if n := len(env.KMS.Calls()) - before; n != 0 {
			t.Errorf("%s: strict keyring made %d KMS calls", name, n)
		}
	}
	if err := env.ReplicationErr(); err != nil {
		t.Fatal(err)
	}
}
