package ddbenc_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/keyring"
)

type tagAddress struct {
	Street string
	City   string
}

// OrderBody is embedded (flattened) in both order types.
type OrderBody struct {
	Card    string     `dynamodbav:"card"` // no tag: the default, EncryptAndSign
	Items   []string   `dynamodbav:"items,stringset"`
	Address tagAddress `dynamodbav:"address"` // a map, encrypted as a whole
	Total   float64    `dynamodbav:"total" ddbenc:"sign"`
	Status  string     `dynamodbav:"status" ddbenc:"sign"` // an index key
	Visits  int        `dynamodbav:"visits" ddbenc:"none"`
	Created time.Time  `dynamodbav:"created,unixtime" ddbenc:"encrypt"`
	Note    *string    `dynamodbav:"note,omitempty"`
	Skipped string     `dynamodbav:"-"`
}

// legacyOrder: the key attributes have no tag; the encryptor signs them.
type legacyOrder struct {
	Customer string `dynamodbav:"pk"`
	OrderID  int    `dynamodbav:"sk"`
	OrderBody
}

// dbeOrder: with a sign-include attribute the keys must be sign-include too.
type dbeOrder struct {
	Customer string `dynamodbav:"pk" ddbenc:"sign-include"`
	OrderID  int    `dynamodbav:"sk" ddbenc:"sign-include"`
	Tenant   string `dynamodbav:"tenant" ddbenc:"sign-include"`
	OrderBody
}

func tagBody() OrderBody {
	return OrderBody{
		Card: "4111 1111 1111 1111", Items: []string{"book", "pen"},
		Address: tagAddress{Street: "1 Main St", City: "Springfield"},
		Total:   12.5, Status: "shipped", Visits: 3,
		Created: time.Unix(1700000000, 0).UTC(), Note: aws.String("leave at the door"),
	}
}

// TestStructTagsRoundTrip: a struct marshalled with attributevalue, written
// through a Client with actions from its tags, stored with its encrypted
// attributes as B, read back and unmarshalled into an equal struct; for a
// legacy table and a DB-ESDK table.
func TestStructTagsRoundTrip(t *testing.T) {
	kr, err := keyring.NewRawAES("ns", "name", bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	legacyActions, err := actions.For[legacyOrder]()
	if err != nil {
		t.Fatal(err)
	}
	dbeActions, err := actions.For[dbeOrder]()
	if err != nil {
		t.Fatal(err)
	}
	indexes := []ddbenc.Index{{Name: "byStatus", PartitionKey: "status"}}
	cases := []struct {
		name      string
		cfg       ddbenc.TableConfig
		in        any
		out       func() any // a new zero value to unmarshal into
		encrypted []string
		plain     []string
	}{
		{
			name: "legacy",
			cfg: ddbenc.TableConfig{TableName: "Orders", PartitionKey: pk, SortKey: sk, Indexes: indexes,
				Actions: legacyActions, Provider: providers(t)["static-hmac"]},
			in:        &legacyOrder{Customer: "alice", OrderID: 7, OrderBody: tagBody()},
			out:       func() any { return &legacyOrder{} },
			encrypted: []string{"card", "items", "address", "created", "note"},
			plain:     []string{pk, sk, "total", "status", "visits"},
		},
		{
			name: "dbesdk",
			cfg: ddbenc.TableConfig{TableName: "Orders", PartitionKey: pk, SortKey: sk, Indexes: indexes,
				Format: ddbenc.DBESDKFormat, Keyring: kr, Actions: dbeActions,
				AllowedUnsignedAttributes: []string{"visits"}},
			in:        &dbeOrder{Customer: "alice", OrderID: 7, Tenant: "t1", OrderBody: tagBody()},
			out:       func() any { return &dbeOrder{} },
			encrypted: []string{"card", "items", "address", "created", "note"},
			plain:     []string{pk, sk, "tenant", "total", "status", "visits"},
		},
	}
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			c, err := ddbenc.NewClient(rec, []ddbenc.TableConfig{tc.cfg})
			if err != nil {
				t.Fatal(err)
			}
			item, err := attributevalue.MarshalMap(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("Orders"), Item: item}); err != nil {
				t.Fatal(err)
			}
			sent := rec.sent()
			if len(sent) != 1 {
				t.Fatalf("sent %d requests, want 1", len(sent))
			}
			stored := sent[0].(*dynamodb.PutItemInput).Item
			for _, name := range tc.encrypted {
				if _, ok := stored[name].(*types.AttributeValueMemberB); !ok {
					t.Errorf("stored %s is %T, want B", name, stored[name])
				}
			}
			for _, name := range tc.plain {
				if d := cmp.Diff(avtest.Normalize(item[name]), avtest.Normalize(stored[name])); d != "" {
					t.Errorf("stored %s differs from the plaintext (-plain +stored):\n%s", name, d)
				}
			}
			if _, ok := stored["Skipped"]; ok {
				t.Error(`a dynamodbav:"-" field was stored`)
			}

			rec.item = stored
			got, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("Orders"),
				Key: map[string]types.AttributeValue{pk: item[pk], sk: item[sk]}})
			if err != nil {
				t.Fatal(err)
			}
			back := tc.out()
			if err := attributevalue.UnmarshalMap(got.Item, back); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.in, back); d != "" {
				t.Errorf("round trip (-in +out):\n%s", d)
			}

			// The same actions through the Encryptor, and tampering with a
			// signed attribute is caught.
			e, err := ddbenc.NewEncryptor(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			enc, err := e.EncryptItem(ctx, item)
			if err != nil {
				t.Fatal(err)
			}
			enc["total"] = &types.AttributeValueMemberN{Value: "0.01"}
			if _, err := e.DecryptItem(ctx, enc); err == nil {
				t.Error("DecryptItem accepted a changed signed attribute")
			}
		})
	}
}

// TestStructTagsIndexKeyMustBeTagged: an index key left to the default
// (EncryptAndSign) is refused by the table configuration, as an explicit
// EncryptAndSign would be.
func TestStructTagsIndexKeyMustBeTagged(t *testing.T) {
	type untaggedIndexKey struct {
		Customer string `dynamodbav:"pk"`
		Email    string `dynamodbav:"email"`
	}
	m, err := actions.For[untaggedIndexKey]()
	if err != nil {
		t.Fatal(err)
	}
	_, err = ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: "T", PartitionKey: pk,
		Indexes: []ddbenc.Index{{Name: "byEmail", PartitionKey: "email"}},
		Actions: m, Provider: providers(t)["static-hmac"]})
	if !errors.Is(err, ddbenc.ErrInvalidConfig) {
		t.Fatalf("NewEncryptor with an encrypted index key: %v, want ErrInvalidConfig", err)
	}
}
