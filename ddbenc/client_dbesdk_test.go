package ddbenc_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/keyring"
)

// dbeClientConfig is a DB-ESDK table: secret encrypted, email signed (an index
// key), tenant signed into the encryption context, visits and the note_
// prefix allowed unsigned; no default (anything else is refused on write).
func dbeClientConfig(t *testing.T) ddbenc.TableConfig {
	t.Helper()
	kr, err := keyring.NewRawAES("ns", "name", bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return ddbenc.TableConfig{
		TableName: "Dbe", PartitionKey: pk, SortKey: sk, Format: ddbenc.DBESDKFormat, Keyring: kr,
		Indexes: []ddbenc.Index{{Name: "byEmail", PartitionKey: "email"}},
		Actions: actions.Map{Default: actions.DoNothing, Attributes: map[string]actions.Action{
			pk: actions.SignAndIncludeInEncryptionContext, sk: actions.SignAndIncludeInEncryptionContext,
			"secret": actions.EncryptAndSign, "email": actions.SignOnly, "tenant": actions.SignAndIncludeInEncryptionContext,
			"visits": actions.DoNothing,
		}},
		AllowedUnsignedAttributes:      []string{"visits"},
		AllowedUnsignedAttributePrefix: "note_",
	}
}

func newDBERecordedClient(t *testing.T) (*ddbenc.Client, *recorder) {
	t.Helper()
	rec := &recorder{}
	c, err := ddbenc.NewClient(rec, []ddbenc.TableConfig{dbeClientConfig(t)})
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

func dbeClientItem() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{pk: s("alice"), sk: n("1"), "secret": s("s3cret"), "email": s("a@example.com"),
		"tenant": s("t1"), "visits": n("3"), "note_x": s("free")}
}

// TestDBESDKActions: the actions the Client checks requests against, for a
// DB-ESDK table.
func TestDBESDKActions(t *testing.T) {
	e, err := ddbenc.NewEncryptor(dbeClientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]actions.Action{
		pk: actions.SignAndIncludeInEncryptionContext, "secret": actions.EncryptAndSign, "email": actions.SignOnly,
		"tenant": actions.SignAndIncludeInEncryptionContext, "visits": actions.DoNothing, "note_anything": actions.DoNothing,
		"other": 0, "aws_dbe_head": 0, "aws_dbe_foot": 0,
	} {
		if got := e.Action(name); got != want {
			t.Errorf("Action(%s) = %v, want %v", name, got, want)
		}
	}
	cfg := dbeClientConfig(t)
	cfg.Actions.Default = actions.SignOnly
	e, err = ddbenc.NewEncryptor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Action("other"); got != actions.SignOnly {
		t.Errorf("with a sign-only default, Action(other) = %v", got)
	}
	if got := e.Action("note_y"); got != actions.DoNothing {
		t.Errorf("with a sign-only default, Action(note_y) = %v, want do_nothing (allowed unsigned)", got)
	}
}

// TestDBESDKClientRefusesBeforeSending: on a DB-ESDK table, requests that
// would compare ciphertext, change signed content, touch the format's own
// attributes or send non-key values fail before any request.
func TestDBESDKClientRefusesBeforeSending(t *testing.T) {
	ctx := context.Background()
	table := aws.String("Dbe")
	k := map[string]types.AttributeValue{pk: s("alice"), sk: n("1")}
	head := map[string]string{"#h": "aws_dbe_head"}
	one := map[string]types.AttributeValue{":v": n("1")}
	cases := []struct {
		name string
		call func(c *ddbenc.Client) error
		want error
		attr string
	}{
		{"put with an aws_dbe_ attribute", func(c *ddbenc.Client) error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: withAttr(dbeClientItem(), "aws_dbe_head", &types.AttributeValueMemberB{Value: []byte{1}})})
			return err
		}, ddbenc.ErrInvalidItem, "aws_dbe_head"},
		{"put with an unconfigured attribute", func(c *ddbenc.Client) error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: withAttr(dbeClientItem(), "other", s("x"))})
			return err
		}, ddbenc.ErrInvalidItem, "other"},
		{"batch put with an aws_dbe_ attribute", func(c *ddbenc.Client) error {
			_, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"Dbe": {{PutRequest: &types.PutRequest{Item: withAttr(dbeClientItem(), "aws_dbe_x", s("x"))}}}}})
			return err
		}, ddbenc.ErrInvalidItem, "aws_dbe_x"},
		{"transact put with an aws_dbe_ attribute", func(c *ddbenc.Client) error {
			_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{Put: &types.Put{TableName: table, Item: withAttr(dbeClientItem(), "aws_dbe_foot", s("x"))}}}})
			return err
		}, ddbenc.ErrInvalidItem, "aws_dbe_foot"},
		{"put condition on aws_dbe_head", func(c *ddbenc.Client) error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: dbeClientItem(), ConditionExpression: aws.String("attribute_not_exists(#h)"), ExpressionAttributeNames: head})
			return err
		}, ddbenc.ErrUnsupportedOperation, "aws_dbe_head"},
		{"put condition on an encrypted attribute", func(c *ddbenc.Client) error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: dbeClientItem(), ConditionExpression: aws.String("secret <> :v"), ExpressionAttributeValues: one})
			return err
		}, ddbenc.ErrUnsupportedOperation, "secret"},
		{"delete condition on an unconfigured attribute", func(c *ddbenc.Client) error {
			_, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: table, Key: k, ConditionExpression: aws.String("other = :v"), ExpressionAttributeValues: one})
			return err
		}, ddbenc.ErrUnsupportedOperation, "other"},
		{"delete legacy Expected on aws_dbe_foot", func(c *ddbenc.Client) error {
			_, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: table, Key: k, Expected: map[string]types.ExpectedAttributeValue{"aws_dbe_foot": {Exists: aws.Bool(false)}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, "aws_dbe_foot"},
		{"query filter on aws_dbe_head", func(c *ddbenc.Client) error {
			_, err := c.Query(ctx, &dynamodb.QueryInput{TableName: table, KeyConditionExpression: aws.String("pk = :v"), FilterExpression: aws.String("size(#h) > :v"), ExpressionAttributeNames: head, ExpressionAttributeValues: one})
			return err
		}, ddbenc.ErrUnsupportedOperation, "aws_dbe_head"},
		{"scan filter on an encrypted attribute", func(c *ddbenc.Client) error {
			_, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: table, ScanFilter: map[string]types.Condition{"secret": {ComparisonOperator: types.ComparisonOperatorNotNull}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, "secret"},
		{"get projection of aws_dbe_head", func(c *ddbenc.Client) error {
			_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: k, ProjectionExpression: aws.String("#h"), ExpressionAttributeNames: head})
			return err
		}, ddbenc.ErrUnsupportedOperation, "aws_dbe_head"},
		{"batch get projection of aws_dbe_foot", func(c *ddbenc.Client) error {
			_, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"Dbe": {Keys: []map[string]types.AttributeValue{k}, AttributesToGet: []string{"aws_dbe_foot"}}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, "aws_dbe_foot"},
		{"transact get projection of aws_dbe_head", func(c *ddbenc.Client) error {
			_, err := c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{{Get: &types.Get{TableName: table, Key: k, ProjectionExpression: aws.String("#h"), ExpressionAttributeNames: head}}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, "aws_dbe_head"},
		{"update of aws_dbe_head", func(c *ddbenc.Client) error {
			_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: k, UpdateExpression: aws.String("REMOVE #h"), ExpressionAttributeNames: head})
			return err
		}, ddbenc.ErrUnsupportedOperation, "aws_dbe_head"},
		{"update condition on aws_dbe_head", func(c *ddbenc.Client) error {
			_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: k, UpdateExpression: aws.String("SET visits = :v"), ConditionExpression: aws.String("attribute_exists(#h)"), ExpressionAttributeNames: head, ExpressionAttributeValues: one})
			return err
		}, ddbenc.ErrUnsupportedOperation, "aws_dbe_head"},
		{"update of an encrypted attribute", func(c *ddbenc.Client) error {
			_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: k, UpdateExpression: aws.String("SET secret = :v"), ExpressionAttributeValues: one})
			return err
		}, ddbenc.ErrUnsupportedOperation, "secret"},
		{"update of a signed attribute", func(c *ddbenc.Client) error {
			_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: k, UpdateExpression: aws.String("SET email = :v"), ExpressionAttributeValues: one})
			return err
		}, ddbenc.ErrUnsupportedOperation, "email"},
		{"update of a sign-and-include attribute", func(c *ddbenc.Client) error {
			_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: k, AttributeUpdates: map[string]types.AttributeValueUpdate{"tenant": {Action: types.AttributeActionDelete}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, "tenant"},
		{"update of an unconfigured attribute", func(c *ddbenc.Client) error {
			_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: k, UpdateExpression: aws.String("SET other = :v"), ExpressionAttributeValues: one})
			return err
		}, ddbenc.ErrUnsupportedOperation, "other"},
		{"transact update of a signed attribute", func(c *ddbenc.Client) error {
			_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{Update: &types.Update{TableName: table, Key: k, UpdateExpression: aws.String("SET email = :v"), ExpressionAttributeValues: one}}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, "email"},
		{"transact condition check on aws_dbe_foot", func(c *ddbenc.Client) error {
			_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{ConditionCheck: &types.ConditionCheck{TableName: table, Key: k, ConditionExpression: aws.String("attribute_exists(aws_dbe_foot)")}}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, "aws_dbe_foot"},
		{"get key with a non-key attribute", func(c *ddbenc.Client) error {
			_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: withAttr(k, "secret", s("x"))})
			return err
		}, ddbenc.ErrUnsupportedOperation, "secret"},
		{"delete key with a non-key attribute", func(c *ddbenc.Client) error {
			_, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: table, Key: withAttr(k, "tenant", s("x"))})
			return err
		}, ddbenc.ErrUnsupportedOperation, "tenant"},
		{"update key with a non-key attribute", func(c *ddbenc.Client) error {
			_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: withAttr(k, "email", s("x")), UpdateExpression: aws.String("SET visits = :v"), ExpressionAttributeValues: one})
			return err
		}, ddbenc.ErrUnsupportedOperation, "email"},
		{"batch delete key with a non-key attribute", func(c *ddbenc.Client) error {
			_, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"Dbe": {{DeleteRequest: &types.DeleteRequest{Key: withAttr(k, "secret", s("x"))}}}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, "secret"},
		{"transact get key with a non-key attribute", func(c *ddbenc.Client) error {
			_, err := c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{{Get: &types.Get{TableName: table, Key: withAttr(k, "secret", s("x"))}}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, "secret"},
		{"query start key with a non-key attribute", func(c *ddbenc.Client) error {
			_, err := c.Query(ctx, &dynamodb.QueryInput{TableName: table, KeyConditionExpression: aws.String("pk = :v"), ExpressionAttributeValues: one, ExclusiveStartKey: withAttr(k, "secret", s("x"))})
			return err
		}, ddbenc.ErrUnsupportedOperation, "secret"},
		{"query of an unknown index", func(c *ddbenc.Client) error {
			_, err := c.Query(ctx, &dynamodb.QueryInput{TableName: table, IndexName: aws.String("nope"), KeyConditionExpression: aws.String("pk = :v"), ExpressionAttributeValues: one})
			return err
		}, ddbenc.ErrInvalidConfig, ""},
		{"PartiQL", func(c *ddbenc.Client) error {
			_, err := c.ExecuteStatement(ctx, &dynamodb.ExecuteStatementInput{Statement: aws.String(`SELECT * FROM "Dbe"`)})
			return err
		}, ddbenc.ErrUnsupportedOperation, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, rec := newDBERecordedClient(t)
			err := tc.call(c)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var de *ddbenc.Error
			if tc.attr != "" && (!errors.As(err, &de) || de.Attribute != tc.attr) {
				t.Errorf("error %v does not name attribute %s", err, tc.attr)
			}
			if n := len(rec.sent()); n != 0 {
				t.Errorf("%d requests sent, want none", n)
			}
		})
	}
}

// TestDBESDKClientAllows: conditions on plaintext attributes (signed,
// sign-and-include, allowed unsigned, index keys) and updates of allowed
// unsigned attributes are sent; an update gets the attribute_exists
// condition.
func TestDBESDKClientAllows(t *testing.T) {
	ctx := context.Background()
	table := aws.String("Dbe")
	k := map[string]types.AttributeValue{pk: s("alice"), sk: n("1")}
	one := map[string]types.AttributeValue{":v": n("1")}
	c, rec := newDBERecordedClient(t)
	if _, err := c.Query(ctx, &dynamodb.QueryInput{TableName: table, IndexName: aws.String("byEmail"), KeyConditionExpression: aws.String("email = :v"),
		FilterExpression: aws.String("tenant = :v AND visits > :v AND note_a <> :v"), ExpressionAttributeValues: one}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, update string
		names        map[string]string
	}{
		{"listed", "SET visits = visits + :v", nil},
		{"by prefix", "SET #n = :v REMOVE note_b", map[string]string{"#n": "note_a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, rec := newDBERecordedClient(t)
			if _, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: k, UpdateExpression: aws.String(tc.update), ExpressionAttributeNames: tc.names, ExpressionAttributeValues: one}); err != nil {
				t.Fatal(err)
			}
			sent := rec.sent()
			if len(sent) != 1 {
				t.Fatalf("%d requests sent, want 1", len(sent))
			}
			got := sent[0].(*dynamodb.UpdateItemInput)
			if aws.ToString(got.ConditionExpression) != "attribute_exists(#ddbenc_pk)" || got.ExpressionAttributeNames["#ddbenc_pk"] != pk {
				t.Errorf("ConditionExpression %q, names %v: want attribute_exists on the partition key", aws.ToString(got.ConditionExpression), got.ExpressionAttributeNames)
			}
		})
	}
	if len(rec.sent()) != 1 {
		t.Errorf("query: %d requests sent, want 1", len(rec.sent()))
	}
}

// TestDBESDKClientRoundTrip: what PutItem sends is a DB-ESDK item; GetItem
// returns it decrypted and projected, and a tampered item fails.
func TestDBESDKClientRoundTrip(t *testing.T) {
	ctx := context.Background()
	c, rec := newDBERecordedClient(t)
	var mu sync.Mutex
	var storedItem map[string]types.AttributeValue
	rec.on("PutItem", func(in any) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		storedItem = avtest.Clone(in.(*dynamodb.PutItemInput).Item)
		return &dynamodb.PutItemOutput{}, nil
	})
	rec.on("GetItem", func(in any) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		return &dynamodb.GetItemOutput{Item: avtest.Clone(storedItem)}, nil
	})
	plain := dbeClientItem()
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("Dbe"), Item: plain}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"aws_dbe_head", "aws_dbe_foot"} {
		if _, ok := storedItem[a]; !ok {
			t.Errorf("stored item has no %s", a)
		}
	}
	if _, ok := storedItem["secret"].(*types.AttributeValueMemberB); !ok {
		t.Errorf("secret stored as %T, want ciphertext", storedItem["secret"])
	}
	if v, ok := storedItem["secret"].(*types.AttributeValueMemberB); ok && bytes.Contains(v.Value, []byte("s3cret")) {
		t.Error("secret stored in plaintext")
	}
	k := map[string]types.AttributeValue{pk: s("alice"), sk: n("1")}
	out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("Dbe"), Key: k})
	if err != nil {
		t.Fatal(err)
	}
	if diff := avtest.DiffItems(plain, out.Item); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	out, err = c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("Dbe"), Key: k, ProjectionExpression: aws.String("secret, visits")})
	if err != nil {
		t.Fatal(err)
	}
	if diff := avtest.DiffItems(map[string]types.AttributeValue{"secret": plain["secret"], "visits": plain["visits"]}, out.Item); diff != "" {
		t.Errorf("projection (-want +got):\n%s", diff)
	}
	if g := rec.sent()[2].(*dynamodb.GetItemInput); g.ProjectionExpression != nil {
		t.Errorf("projection sent: %q", aws.ToString(g.ProjectionExpression))
	}
	mu.Lock()
	storedItem["email"] = s("mallory@example.com")
	mu.Unlock()
	if _, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("Dbe"), Key: k}); !errors.Is(err, ddbenc.ErrSignature) {
		t.Errorf("tampered item: %v, want ErrSignature", err)
	} else if strings.Contains(err.Error(), "mallory") {
		t.Errorf("error shows a value: %v", err)
	}
}

// TestDBESDKClientDiscoversKeySchema: a DB-ESDK table configured without its
// key schema has it read with DescribeTable, and then the checks apply.
func TestDBESDKClientDiscoversKeySchema(t *testing.T) {
	ctx := context.Background()
	cfg := dbeClientConfig(t)
	cfg.PartitionKey, cfg.SortKey, cfg.Indexes = "", "", nil
	rec := &recorder{desc: &types.TableDescription{TableName: aws.String("Dbe"), KeySchema: []types.KeySchemaElement{
		{AttributeName: aws.String(pk), KeyType: types.KeyTypeHash}, {AttributeName: aws.String(sk), KeyType: types.KeyTypeRange}}}}
	c, err := ddbenc.NewClient(rec, []ddbenc.TableConfig{cfg})
	if err != nil {
		t.Fatal(err)
	}
	k := map[string]types.AttributeValue{pk: s("alice"), sk: n("1")}
	if _, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("Dbe"), Key: k, UpdateExpression: aws.String("SET email = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": s("x")}}); !errors.Is(err, ddbenc.ErrUnsupportedOperation) {
		t.Errorf("update of a signed attribute: %v, want ErrUnsupportedOperation", err)
	}
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("Dbe"), Item: dbeClientItem()}); err != nil {
		t.Fatal(err)
	}
	put := rec.sent()[1].(*dynamodb.PutItemInput)
	if _, ok := put.Item["aws_dbe_head"]; !ok {
		t.Error("put sent no aws_dbe_head")
	}
}
