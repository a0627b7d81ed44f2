package ddbenc_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/internal/legacy"
)

// recorder is a recording fake of ddbenc.DynamoDBAPI for unit tests of
// request checking and rewriting: it keeps every request and answers with
// what on set for the operation, or else an empty output (what item holds,
// for GetItem; desc, for DescribeTable).
type recorder struct {
	mu      sync.Mutex
	calls   []any
	answers map[string]func(in any) (any, error) // by operation name
	item    map[string]types.AttributeValue      // returned by GetItem
	desc    *types.TableDescription              // returned by DescribeTable
}

func (r *recorder) record(in any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, in)
}

func (r *recorder) sent() []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]any(nil), r.calls...)
}

// on makes the operation op ("Query", "BatchWriteItem", ...) answer with
// what fn returns for the request as sent: an output of the operation's type,
// or an error.
func (r *recorder) on(op string, fn func(in any) (any, error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.answers == nil {
		r.answers = map[string]func(any) (any, error){}
	}
	r.answers[op] = fn
}

// returns makes the operation op answer with out, or with err if not nil.
func (r *recorder) returns(op string, out any, err error) {
	r.on(op, func(any) (any, error) { return out, err })
}

// answer records in and answers for op: the canned answer, or def.
func answer[Out any](r *recorder, op string, in any, def *Out) (*Out, error) {
	r.record(in)
	r.mu.Lock()
	fn := r.answers[op]
	r.mu.Unlock()
	if fn == nil {
		return def, nil
	}
	out, err := fn(in)
	if err != nil {
		return nil, err
	}
	return out.(*Out), nil
}

func (r *recorder) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return answer(r, "PutItem", in, &dynamodb.PutItemOutput{})
}

func (r *recorder) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return answer(r, "GetItem", in, &dynamodb.GetItemOutput{Item: r.item})
}

func (r *recorder) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return answer(r, "Query", in, &dynamodb.QueryOutput{})
}

func (r *recorder) Scan(_ context.Context, in *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	return answer(r, "Scan", in, &dynamodb.ScanOutput{})
}

func (r *recorder) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	return answer(r, "BatchGetItem", in, &dynamodb.BatchGetItemOutput{})
}

func (r *recorder) BatchWriteItem(_ context.Context, in *dynamodb.BatchWriteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	return answer(r, "BatchWriteItem", in, &dynamodb.BatchWriteItemOutput{})
}

func (r *recorder) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return answer(r, "DeleteItem", in, &dynamodb.DeleteItemOutput{})
}

func (r *recorder) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return answer(r, "UpdateItem", in, &dynamodb.UpdateItemOutput{})
}

func (r *recorder) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return answer(r, "TransactWriteItems", in, &dynamodb.TransactWriteItemsOutput{})
}

func (r *recorder) TransactGetItems(_ context.Context, in *dynamodb.TransactGetItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactGetItemsOutput, error) {
	return answer(r, "TransactGetItems", in, &dynamodb.TransactGetItemsOutput{})
}

func (r *recorder) DescribeTable(_ context.Context, in *dynamodb.DescribeTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	r.mu.Lock()
	_, canned := r.answers["DescribeTable"]
	r.mu.Unlock()
	if !canned && r.desc == nil {
		r.record(in)
		return nil, &types.ResourceNotFoundException{Message: aws.String("no table")}
	}
	return answer(r, "DescribeTable", in, &dynamodb.DescribeTableOutput{Table: r.desc})
}

var _ ddbenc.DynamoDBAPI = (*recorder)(nil)

const (
	tableARN = "arn:aws:dynamodb:us-east-1:111122223333:table/People"
	sigAttr  = legacy.SignatureAttribute
	descAttr = legacy.MaterialDescriptionAttribute
)

func s(v string) *types.AttributeValueMemberS { return &types.AttributeValueMemberS{Value: v} }

func peopleConfig(t *testing.T) ddbenc.TableConfig {
	return ddbenc.TableConfig{
		TableName: "People", PartitionKey: pk, SortKey: sk,
		Indexes: []ddbenc.Index{{Name: "byEmail", PartitionKey: "email"}, {Name: "byDate", PartitionKey: pk, SortKey: "date"}},
		Actions: actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{
			"email": actions.SignOnly, "date": actions.SignOnly, "visits": actions.DoNothing,
		}},
		Provider: providers(t)["static-hmac"],
	}
}

func newRecordedClient(t *testing.T, optFns ...func(*ddbenc.Options)) (*ddbenc.Client, *recorder) {
	t.Helper()
	rec := &recorder{}
	c, err := ddbenc.NewClient(rec, []ddbenc.TableConfig{peopleConfig(t)}, append([]func(*ddbenc.Options){func(o *ddbenc.Options) {
		o.PassThroughTables = []string{"Plain"}
	}}, optFns...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

func key(p, sortVal string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{pk: s(p), sk: &types.AttributeValueMemberN{Value: sortVal}}
}

func withAttr(m map[string]types.AttributeValue, name string, v types.AttributeValue) map[string]types.AttributeValue {
	out := avtest.Clone(m)
	out[name] = v
	return out
}

// TestClientRefusesBeforeSending: requests that cannot be checked, or would
// send what they must not, fail before any request leaves.
func TestClientRefusesBeforeSending(t *testing.T) {
	ctx := context.Background()
	table := aws.String("People")
	k := key("alice", "1")
	extra := withAttr(k, "ssn", s("123-45-6789"))
	names := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name string
		call func(c *ddbenc.Client) error
		want error
		attr string
	}{
		{"transact write item with two operations", func(c *ddbenc.Client) error {
			_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{
				Put:    &types.Put{TableName: table, Item: withAttr(k, "x", s("1"))},
				Update: &types.Update{TableName: table, Key: k, UpdateExpression: aws.String("SET ssn = :v")},
			}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, ""},
		{"transact write item with no operation", func(c *ddbenc.Client) error {
			_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, ""},
		{"transact get item with no Get", func(c *ddbenc.Client) error {
			_, err := c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{{}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, ""},
		{"GetItem key with a non-key attribute", func(c *ddbenc.Client) error {
			_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: extra})
			return err
		}, ddbenc.ErrUnsupportedOperation, "ssn"},
		{"GetItem key with an index key", func(c *ddbenc.Client) error {
			_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: withAttr(k, "email", s("a@example.com"))})
			return err
		}, ddbenc.ErrUnsupportedOperation, "email"},
		{"DeleteItem key with a non-key attribute", func(c *ddbenc.Client) error {
			_, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: table, Key: extra})
			return err
		}, ddbenc.ErrUnsupportedOperation, "ssn"},
		{"UpdateItem key with a non-key attribute", func(c *ddbenc.Client) error {
			_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: extra, UpdateExpression: aws.String("SET visits = :v"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: "1"}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, "ssn"},
		{"BatchGetItem key with a non-key attribute", func(c *ddbenc.Client) error {
			_, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"People": {Keys: []map[string]types.AttributeValue{k, extra}}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, "ssn"},
		{"BatchWriteItem delete key with a non-key attribute", func(c *ddbenc.Client) error {
			_, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"People": {{DeleteRequest: &types.DeleteRequest{Key: extra}}}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, "ssn"},
		{"BatchWriteItem request with put and delete", func(c *ddbenc.Client) error {
			_, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"People": {{
				PutRequest: &types.PutRequest{Item: withAttr(k, "ssn", s("x"))}, DeleteRequest: &types.DeleteRequest{Key: k}}}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, ""},
		{"BatchGetItem naming a table by name and by ARN", func(c *ddbenc.Client) error {
			_, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
				"People": {Keys: []map[string]types.AttributeValue{k}}, tableARN: {Keys: []map[string]types.AttributeValue{key("bob", "1")}}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, ""},
		{"TransactGetItems key with a non-key attribute", func(c *ddbenc.Client) error {
			_, err := c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{{Get: &types.Get{TableName: table, Key: extra}}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, "ssn"},
		{"transact delete key with a non-key attribute", func(c *ddbenc.Client) error {
			_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{Delete: &types.Delete{TableName: table, Key: extra}}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, "ssn"},
		{"transact condition check key with a non-key attribute", func(c *ddbenc.Client) error {
			_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{
				ConditionCheck: &types.ConditionCheck{TableName: table, Key: extra, ConditionExpression: aws.String("attribute_exists(visits)")}}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, "ssn"},
		{"transact update key with a non-key attribute", func(c *ddbenc.Client) error {
			_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{
				Update: &types.Update{TableName: table, Key: extra, UpdateExpression: aws.String("SET visits = :v")}}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, "ssn"},
		{"Query ExclusiveStartKey with a non-key attribute", func(c *ddbenc.Client) error {
			_, err := c.Query(ctx, &dynamodb.QueryInput{TableName: table, KeyConditionExpression: aws.String("pk = :p"), ExclusiveStartKey: extra})
			return err
		}, ddbenc.ErrUnsupportedOperation, "ssn"},
		{"Query ExclusiveStartKey with another index's key", func(c *ddbenc.Client) error {
			_, err := c.Query(ctx, &dynamodb.QueryInput{TableName: table, IndexName: aws.String("byDate"), KeyConditionExpression: aws.String("pk = :p"),
				ExclusiveStartKey: withAttr(k, "email", s("a@example.com"))})
			return err
		}, ddbenc.ErrUnsupportedOperation, "email"},
		{"Scan ExclusiveStartKey with a non-key attribute", func(c *ddbenc.Client) error {
			_, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: table, ExclusiveStartKey: extra})
			return err
		}, ddbenc.ErrUnsupportedOperation, "ssn"},
		{"Query on an index that is not configured", func(c *ddbenc.Client) error {
			_, err := c.Query(ctx, &dynamodb.QueryInput{TableName: table, IndexName: aws.String("bySSN"), KeyConditionExpression: aws.String("ssn = :s")})
			return err
		}, ddbenc.ErrInvalidConfig, ""},
		{"Scan on an index that is not configured", func(c *ddbenc.Client) error {
			_, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: table, IndexName: aws.String("bySSN")})
			return err
		}, ddbenc.ErrInvalidConfig, ""},
		// The attributes the encryptor writes are refused everywhere.
		{"update removes the signature", func(c *ddbenc.Client) error {
			_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: k, UpdateExpression: aws.String("REMOVE #s"), ExpressionAttributeNames: names("#s", sigAttr)})
			return err
		}, ddbenc.ErrUnsupportedOperation, sigAttr},
		{"update sets the material description", func(c *ddbenc.Client) error {
			_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: k, UpdateExpression: aws.String("SET #d = :v"), ExpressionAttributeNames: names("#d", descAttr),
				ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberB{Value: []byte{0}}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, descAttr},
		{"legacy AttributeUpdates on the signature", func(c *ddbenc.Client) error {
			_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: k, AttributeUpdates: map[string]types.AttributeValueUpdate{sigAttr: {Action: types.AttributeActionDelete}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, sigAttr},
		{"update condition on the signature", func(c *ddbenc.Client) error {
			_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: k, UpdateExpression: aws.String("SET visits = :v"), ConditionExpression: aws.String("attribute_exists(#s)"),
				ExpressionAttributeNames: names("#s", sigAttr), ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: "1"}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, sigAttr},
		{"put condition on the description", func(c *ddbenc.Client) error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: withAttr(k, "ssn", s("x")), ConditionExpression: aws.String("attribute_not_exists(#d)"), ExpressionAttributeNames: names("#d", descAttr)})
			return err
		}, ddbenc.ErrUnsupportedOperation, descAttr},
		{"legacy Expected on the signature", func(c *ddbenc.Client) error {
			_, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: table, Key: k, Expected: map[string]types.ExpectedAttributeValue{sigAttr: {Exists: aws.Bool(false)}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, sigAttr},
		{"projection of the signature", func(c *ddbenc.Client) error {
			_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: k, ProjectionExpression: aws.String("#s"), ExpressionAttributeNames: names("#s", sigAttr)})
			return err
		}, ddbenc.ErrUnsupportedOperation, sigAttr},
		{"AttributesToGet the description", func(c *ddbenc.Client) error {
			_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: k, AttributesToGet: []string{descAttr}})
			return err
		}, ddbenc.ErrUnsupportedOperation, descAttr},
		{"query filter on the signature", func(c *ddbenc.Client) error {
			_, err := c.Query(ctx, &dynamodb.QueryInput{TableName: table, KeyConditionExpression: aws.String("pk = :p"), FilterExpression: aws.String("size(#s) > :n"), ExpressionAttributeNames: names("#s", sigAttr)})
			return err
		}, ddbenc.ErrUnsupportedOperation, sigAttr},
		{"legacy ScanFilter on the description", func(c *ddbenc.Client) error {
			_, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: table, ScanFilter: map[string]types.Condition{descAttr: {ComparisonOperator: types.ComparisonOperatorNull}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, descAttr},
		{"transact condition check on the signature", func(c *ddbenc.Client) error {
			_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{
				ConditionCheck: &types.ConditionCheck{TableName: table, Key: k, ConditionExpression: aws.String("attribute_exists(#s)"), ExpressionAttributeNames: names("#s", sigAttr)}}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, sigAttr},
		// Expressions on encrypted attributes, updates of signed ones.
		{"Query key condition on an encrypted attribute", func(c *ddbenc.Client) error {
			_, err := c.Query(ctx, &dynamodb.QueryInput{TableName: table, KeyConditionExpression: aws.String("pk = :p AND ssn = :s")})
			return err
		}, ddbenc.ErrUnsupportedOperation, "ssn"},
		{"legacy QueryFilter on an encrypted attribute", func(c *ddbenc.Client) error {
			_, err := c.Query(ctx, &dynamodb.QueryInput{TableName: table, KeyConditionExpression: aws.String("pk = :p"), QueryFilter: map[string]types.Condition{"ssn": {ComparisonOperator: types.ComparisonOperatorNotNull}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, "ssn"},
		{"Scan filter on an encrypted attribute", func(c *ddbenc.Client) error {
			_, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: table, FilterExpression: aws.String("#x = :v"), ExpressionAttributeNames: names("#x", "ssn")})
			return err
		}, ddbenc.ErrUnsupportedOperation, "ssn"},
		{"Scan filter with an undefined placeholder", func(c *ddbenc.Client) error {
			_, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: table, FilterExpression: aws.String("#nope = :v")})
			return err
		}, ddbenc.ErrUnsupportedOperation, ""},
		{"Scan projection of a nested path", func(c *ddbenc.Client) error {
			_, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: table, ProjectionExpression: aws.String("address.city")})
			return err
		}, ddbenc.ErrUnsupportedOperation, ""},
		{"Query projection of the signature", func(c *ddbenc.Client) error {
			_, err := c.Query(ctx, &dynamodb.QueryInput{TableName: table, KeyConditionExpression: aws.String("pk = :p"), ProjectionExpression: aws.String("#s"), ExpressionAttributeNames: names("#s", sigAttr)})
			return err
		}, ddbenc.ErrUnsupportedOperation, sigAttr},
		{"put condition on an encrypted attribute", func(c *ddbenc.Client) error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: withAttr(k, "ssn", s("x")), ConditionExpression: aws.String("ssn <> :v")})
			return err
		}, ddbenc.ErrUnsupportedOperation, "ssn"},
		{"put of an item holding the signature attribute", func(c *ddbenc.Client) error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: withAttr(k, sigAttr, &types.AttributeValueMemberB{Value: []byte{1}})})
			return err
		}, ddbenc.ErrInvalidItem, sigAttr},
		{"delete condition on an encrypted attribute", func(c *ddbenc.Client) error {
			_, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: table, Key: k, ConditionExpression: aws.String("attribute_exists(ssn)")})
			return err
		}, ddbenc.ErrUnsupportedOperation, "ssn"},
		{"update of a sign-only attribute", func(c *ddbenc.Client) error {
			_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: k, UpdateExpression: aws.String("SET email = :v")})
			return err
		}, ddbenc.ErrUnsupportedOperation, "email"},
		{"update condition on an encrypted attribute", func(c *ddbenc.Client) error {
			_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: k, UpdateExpression: aws.String("SET visits = :v"), ConditionExpression: aws.String("ssn = :s")})
			return err
		}, ddbenc.ErrUnsupportedOperation, "ssn"},
		{"BatchGetItem projection of the signature", func(c *ddbenc.Client) error {
			_, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"People": {Keys: []map[string]types.AttributeValue{k}, AttributesToGet: []string{sigAttr}}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, sigAttr},
		{"BatchGetItem of an unknown table", func(c *ddbenc.Client) error {
			_, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"Other": {Keys: []map[string]types.AttributeValue{k}}}})
			return err
		}, ddbenc.ErrUnknownTable, ""},
		{"BatchWriteItem put of an item holding the description attribute", func(c *ddbenc.Client) error {
			_, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"People": {{PutRequest: &types.PutRequest{Item: withAttr(k, descAttr, s("x"))}}}}})
			return err
		}, ddbenc.ErrInvalidItem, descAttr},
		{"BatchWriteItem request with neither put nor delete", func(c *ddbenc.Client) error {
			_, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"People": {{}}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, ""},
		{"transact put condition on an encrypted attribute", func(c *ddbenc.Client) error {
			_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{
				Put: &types.Put{TableName: table, Item: withAttr(k, "ssn", s("x")), ConditionExpression: aws.String("attribute_not_exists(ssn)")}}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, "ssn"},
		{"transact put of an item holding the signature attribute", func(c *ddbenc.Client) error {
			_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{
				Put: &types.Put{TableName: table, Item: withAttr(k, sigAttr, s("x"))}}}})
			return err
		}, ddbenc.ErrInvalidItem, sigAttr},
		{"transact delete condition on an encrypted attribute", func(c *ddbenc.Client) error {
			_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{
				Delete: &types.Delete{TableName: table, Key: k, ConditionExpression: aws.String("attribute_exists(ssn)")}}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, "ssn"},
		{"transact update of an encrypted attribute", func(c *ddbenc.Client) error {
			_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{
				Update: &types.Update{TableName: table, Key: k, UpdateExpression: aws.String("SET ssn = :v")}}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, "ssn"},
		{"transact update condition on an encrypted attribute", func(c *ddbenc.Client) error {
			_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{
				Update: &types.Update{TableName: table, Key: k, UpdateExpression: aws.String("SET visits = :v"), ConditionExpression: aws.String("ssn = :s")}}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, "ssn"},
		{"transact condition check on an encrypted attribute", func(c *ddbenc.Client) error {
			_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{
				ConditionCheck: &types.ConditionCheck{TableName: table, Key: k, ConditionExpression: aws.String("ssn = :s")}}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, "ssn"},
		{"transact write of an unknown table, after a valid entry", func(c *ddbenc.Client) error {
			_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
				{Put: &types.Put{TableName: table, Item: withAttr(k, "ssn", s("x"))}},
				{Delete: &types.Delete{TableName: aws.String("Other"), Key: k}}}})
			return err
		}, ddbenc.ErrUnknownTable, ""},
		{"transact get projection of a nested path", func(c *ddbenc.Client) error {
			_, err := c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{{Get: &types.Get{TableName: table, Key: k, ProjectionExpression: aws.String("a[0]")}}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, ""},
		{"transact get of an unknown table", func(c *ddbenc.Client) error {
			_, err := c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{{Get: &types.Get{TableName: aws.String("Other"), Key: k}}}})
			return err
		}, ddbenc.ErrUnknownTable, ""},
		// PartiQL, whatever the table.
		{"ExecuteStatement", func(c *ddbenc.Client) error {
			_, err := c.ExecuteStatement(ctx, &dynamodb.ExecuteStatementInput{Statement: aws.String(`SELECT * FROM "Plain"`)})
			return err
		}, ddbenc.ErrUnsupportedOperation, ""},
		{"BatchExecuteStatement", func(c *ddbenc.Client) error {
			_, err := c.BatchExecuteStatement(ctx, &dynamodb.BatchExecuteStatementInput{Statements: []types.BatchStatementRequest{{Statement: aws.String(`SELECT * FROM "Plain"`)}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, ""},
		{"ExecuteTransaction", func(c *ddbenc.Client) error {
			_, err := c.ExecuteTransaction(ctx, &dynamodb.ExecuteTransactionInput{TransactStatements: []types.ParameterizedStatement{{Statement: aws.String(`DELETE FROM "People"`)}}})
			return err
		}, ddbenc.ErrUnsupportedOperation, ""},
		{"unknown table", func(c *ddbenc.Client) error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("Other"), Item: k})
			return err
		}, ddbenc.ErrUnknownTable, ""},
		{"unknown table by ARN", func(c *ddbenc.Client) error {
			_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("arn:aws:dynamodb:us-east-1:111122223333:table/Other"), Key: k})
			return err
		}, ddbenc.ErrUnknownTable, ""},
		{"configured table by ARN: its checks apply", func(c *ddbenc.Client) error {
			_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tableARN), Key: extra})
			return err
		}, ddbenc.ErrUnsupportedOperation, "ssn"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, rec := newRecordedClient(t)
			err := tc.call(c)
			var de *ddbenc.Error
			if !errors.Is(err, tc.want) || !errors.As(err, &de) || de.Attribute != tc.attr {
				t.Errorf("got %v; want %v naming attribute %q", err, tc.want, tc.attr)
			}
			if err != nil && strings.Contains(err.Error(), "123-45-6789") {
				t.Errorf("error contains a value: %v", err)
			}
			if n := len(rec.sent()); n != 0 {
				t.Errorf("%d requests sent, want 0", n)
			}
		})
	}
}

// TestClientAllowsKeysAndIndexes: the checks let through what is allowed.
func TestClientAllowsKeysAndIndexes(t *testing.T) {
	ctx := context.Background()
	c, rec := newRecordedClient(t)
	k := key("alice", "1")
	calls := []func() error{
		func() error {
			_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("People"), Key: k})
			return err
		},
		func() error {
			_, err := c.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("People"), IndexName: aws.String("byEmail"), KeyConditionExpression: aws.String("email = :e"),
				ExclusiveStartKey: withAttr(k, "email", s("a@example.com"))})
			return err
		},
		func() error {
			_, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(tableARN), IndexName: aws.String("byDate"), ExclusiveStartKey: withAttr(k, "date", s("2026"))})
			return err
		},
		func() error {
			_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("arn:aws:dynamodb:us-east-1:111122223333:table/Plain"), Key: map[string]types.AttributeValue{"anything": s("x")}})
			return err
		},
	}
	for i, call := range calls {
		if err := call(); err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	if n := len(rec.sent()); n != len(calls) {
		t.Errorf("%d requests sent, want %d", n, len(calls))
	}
}

// TestUpdateNeverCreatesItems: the wrapper adds attribute_exists on the
// partition key, under a placeholder that collides with none of the caller's,
// and leaves the caller's request unchanged.
func TestUpdateNeverCreatesItems(t *testing.T) {
	ctx := context.Background()
	k := key("alice", "1")
	one := map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: "1"}}
	cases := []struct {
		name      string
		in        *dynamodb.UpdateItemInput
		wantCond  string
		wantNames map[string]string
		wantExp   map[string]types.ExpectedAttributeValue
	}{
		{name: "no condition", in: &dynamodb.UpdateItemInput{UpdateExpression: aws.String("SET visits = :v"), ExpressionAttributeValues: one},
			wantCond: "attribute_exists(#ddbenc_pk)", wantNames: map[string]string{"#ddbenc_pk": pk}},
		{name: "caller's condition", in: &dynamodb.UpdateItemInput{UpdateExpression: aws.String("SET #n = :v"), ConditionExpression: aws.String("#n < :v OR attribute_not_exists(#n)"),
			ExpressionAttributeNames: map[string]string{"#n": "visits", "#ddbenc_pk": "visits"}, ExpressionAttributeValues: one},
			wantCond: "(#n < :v OR attribute_not_exists(#n)) AND attribute_exists(#ddbenc_pk1)", wantNames: map[string]string{"#n": "visits", "#ddbenc_pk": "visits", "#ddbenc_pk1": pk}},
		{name: "legacy AttributeUpdates", in: &dynamodb.UpdateItemInput{AttributeUpdates: map[string]types.AttributeValueUpdate{"visits": {Action: types.AttributeActionPut, Value: one[":v"]}}},
			wantExp: map[string]types.ExpectedAttributeValue{pk: {ComparisonOperator: types.ComparisonOperatorNotNull}}},
		{name: "legacy Expected", in: &dynamodb.UpdateItemInput{AttributeUpdates: map[string]types.AttributeValueUpdate{"visits": {Action: types.AttributeActionPut, Value: one[":v"]}},
			Expected: map[string]types.ExpectedAttributeValue{"visits": {Exists: aws.Bool(false)}}},
			wantExp: map[string]types.ExpectedAttributeValue{"visits": {Exists: aws.Bool(false)}, pk: {ComparisonOperator: types.ComparisonOperatorNotNull}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, rec := newRecordedClient(t)
			tc.in.TableName, tc.in.Key = aws.String("People"), k
			before := *tc.in
			beforeNames := cloneNames(tc.in.ExpressionAttributeNames)
			if _, err := c.UpdateItem(ctx, tc.in); err != nil {
				t.Fatal(err)
			}
			sent := rec.sent()
			if len(sent) != 1 {
				t.Fatalf("%d requests sent, want 1", len(sent))
			}
			got := sent[0].(*dynamodb.UpdateItemInput)
			if aws.ToString(got.ConditionExpression) != tc.wantCond {
				t.Errorf("ConditionExpression = %q, want %q", aws.ToString(got.ConditionExpression), tc.wantCond)
			}
			if diff := cmp.Diff(tc.wantNames, got.ExpressionAttributeNames); diff != "" {
				t.Errorf("ExpressionAttributeNames (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantExp, got.Expected, cmp.AllowUnexported(types.ExpectedAttributeValue{})); diff != "" {
				t.Errorf("Expected (-want +got):\n%s", diff)
			}
			if tc.in.ConditionExpression != before.ConditionExpression || !cmp.Equal(beforeNames, tc.in.ExpressionAttributeNames) || len(tc.in.Expected) != len(before.Expected) {
				t.Error("the caller's request was modified")
			}
		})
	}

	// Transactions too.
	c, rec := newRecordedClient(t)
	if _, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{
		Update: &types.Update{TableName: aws.String("People"), Key: k, UpdateExpression: aws.String("SET visits = :v"), ExpressionAttributeValues: one}}}}); err != nil {
		t.Fatal(err)
	}
	upd := rec.sent()[0].(*dynamodb.TransactWriteItemsInput).TransactItems[0].Update
	if aws.ToString(upd.ConditionExpression) != "attribute_exists(#ddbenc_pk)" || upd.ExpressionAttributeNames["#ddbenc_pk"] != pk {
		t.Errorf("transact update condition %q names %v", aws.ToString(upd.ConditionExpression), upd.ExpressionAttributeNames)
	}

	// Expected on the partition key, or with OR, cannot be combined.
	for name, in := range map[string]*dynamodb.UpdateItemInput{
		"Expected on the key": {AttributeUpdates: map[string]types.AttributeValueUpdate{"visits": {Action: types.AttributeActionDelete}},
			Expected: map[string]types.ExpectedAttributeValue{pk: {Exists: aws.Bool(false)}}},
		"Expected with OR": {AttributeUpdates: map[string]types.AttributeValueUpdate{"visits": {Action: types.AttributeActionDelete}},
			Expected: map[string]types.ExpectedAttributeValue{"visits": {Exists: aws.Bool(false)}}, ConditionalOperator: types.ConditionalOperatorOr},
	} {
		c, rec := newRecordedClient(t)
		in.TableName, in.Key = aws.String("People"), k
		if _, err := c.UpdateItem(ctx, in); !errors.Is(err, ddbenc.ErrUnsupportedOperation) || len(rec.sent()) != 0 {
			t.Errorf("%s: %v, %d sent; want ErrUnsupportedOperation and nothing sent", name, err, len(rec.sent()))
		}
	}
}

func cloneNames(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestPerTableSettings: two tables of one Client sign under their own names
// and orderings.
func TestPerTableSettings(t *testing.T) {
	ctx := context.Background()
	p := providers(t)["static-hmac"]
	acts := actions.Map{Default: actions.EncryptAndSign}
	rec := &recorder{}
	c, err := ddbenc.NewClient(rec, []ddbenc.TableConfig{
		{TableName: "A", PartitionKey: pk, Actions: acts, Provider: p, SignedTableName: "OldA"},
		{TableName: "B", PartitionKey: pk, Actions: acts, Provider: p, Ordering: ddbenc.PythonOrdering},
	})
	if err != nil {
		t.Fatal(err)
	}
	item := map[string]types.AttributeValue{pk: s("k"), "x": s("secret")}
	for _, name := range []string{"A", "B"} {
		if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	sent := rec.sent()
	readers := map[string]ddbenc.TableConfig{
		"as OldA": {TableName: "OldA", PartitionKey: pk, Actions: acts, Provider: p},
		"as B":    {TableName: "B", PartitionKey: pk, Actions: acts, Provider: p},
	}
	for i, want := range []string{"as OldA", "as B"} {
		stored := sent[i].(*dynamodb.PutItemInput).Item
		for name, cfg := range readers {
			e, err := ddbenc.NewEncryptor(cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.DecryptItem(ctx, stored)
			if (name == want) != (err == nil) {
				t.Errorf("item %d read %s: %v", i, name, err)
			}
		}
	}
	if _, err := ddbenc.NewClient(rec, []ddbenc.TableConfig{{TableName: "A", PartitionKey: pk, Actions: acts, Provider: p, Ordering: 9}}); !errors.Is(err, ddbenc.ErrInvalidConfig) {
		t.Errorf("unknown ordering: %v, want ErrInvalidConfig", err)
	}
}

// TestClientTableARNConfiguration: a table ARN in the configuration or the
// pass-through list is the table's name for the overlap checks.
func TestClientTableARNConfiguration(t *testing.T) {
	cfg := peopleConfig(t)
	arnCfg := cfg
	arnCfg.TableName = tableARN
	if _, err := ddbenc.NewClient(&recorder{}, []ddbenc.TableConfig{cfg, arnCfg}); !errors.Is(err, ddbenc.ErrInvalidConfig) {
		t.Errorf("table configured by name and by ARN: %v, want ErrInvalidConfig", err)
	}
	if _, err := ddbenc.NewClient(&recorder{}, []ddbenc.TableConfig{cfg}, func(o *ddbenc.Options) { o.PassThroughTables = []string{tableARN} }); !errors.Is(err, ddbenc.ErrInvalidConfig) {
		t.Errorf("table configured and passed through by ARN: %v, want ErrInvalidConfig", err)
	}
	rec := &recorder{}
	c, err := ddbenc.NewClient(rec, []ddbenc.TableConfig{arnCfg})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String("People"), Item: withAttr(key("a", "1"), "ssn", s("x"))}); err != nil {
		t.Fatal(err)
	}
	if _, ok := rec.sent()[0].(*dynamodb.PutItemInput).Item[sigAttr]; !ok {
		t.Error("put by name to a table configured by ARN was not signed")
	}
}

// TestDescribedIndexes: DescribeTable gives the key schema and the indexes,
// and the index rules apply to them.
func TestDescribedIndexes(t *testing.T) {
	ctx := context.Background()
	p := providers(t)["static-hmac"]
	desc := &types.TableDescription{
		TableName: aws.String("People"),
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String(pk), KeyType: types.KeyTypeHash}},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndexDescription{{IndexName: aws.String("byEmail"),
			KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("email"), KeyType: types.KeyTypeHash}}}},
	}
	rec := &recorder{desc: desc}
	c, err := ddbenc.NewClient(rec, []ddbenc.TableConfig{{TableName: "People", Actions: actions.Map{Default: actions.EncryptAndSign}, Provider: p}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("People"), Item: map[string]types.AttributeValue{pk: s("a"), "email": s("a@example.com")}})
	var de *ddbenc.Error
	if !errors.Is(err, ddbenc.ErrInvalidConfig) || !errors.As(err, &de) || de.Attribute != "email" || !strings.Contains(err.Error(), "byEmail") {
		t.Fatalf("PutItem with a default-encrypted GSI key: %v; want ErrInvalidConfig naming byEmail and email", err)
	}
	if n := len(rec.sent()); n != 1 {
		t.Errorf("%d requests sent, want 1 (DescribeTable only)", n)
	}

	rec = &recorder{desc: desc}
	c, err = ddbenc.NewClient(rec, []ddbenc.TableConfig{{TableName: "People", Actions: actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{"email": actions.SignOnly}}, Provider: p}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("People"), IndexName: aws.String("byEmail"), KeyConditionExpression: aws.String("email = :e")}); err != nil {
		t.Fatalf("Query on the described index: %v", err)
	}
	if _, err := ddbenc.NewClient(rec, []ddbenc.TableConfig{{TableName: "People", Indexes: []ddbenc.Index{{Name: "i", PartitionKey: "x"}}, Actions: actions.Map{Default: actions.SignOnly}, Provider: p}}); !errors.Is(err, ddbenc.ErrInvalidConfig) {
		t.Errorf("Indexes without PartitionKey: %v, want ErrInvalidConfig", err)
	}
}

// TestRedactKeys: Error.Key names the item's key unless RedactKeys is set.
func TestRedactKeys(t *testing.T) {
	ctx := context.Background()
	e, err := ddbenc.NewEncryptor(peopleConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	stored, err := e.EncryptItem(ctx, withAttr(key("alice-secret-id", "1"), "ssn", s("x")))
	if err != nil {
		t.Fatal(err)
	}
	stored["ssn"] = &types.AttributeValueMemberB{Value: []byte("not the ciphertext......")}
	for _, redact := range []bool{false, true} {
		c, rec := newRecordedClient(t, func(o *ddbenc.Options) { o.RedactKeys = redact })
		rec.item = stored
		_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("People"), Key: key("alice-secret-id", "1")})
		var de *ddbenc.Error
		if !errors.Is(err, ddbenc.ErrSignature) || !errors.As(err, &de) {
			t.Fatalf("redact=%v: %v, want ErrSignature", redact, err)
		}
		if shown := strings.Contains(err.Error(), "alice-secret-id"); shown == redact || (de.Key == "") != redact {
			t.Errorf("redact=%v: Key %q, message %q", redact, de.Key, err)
		}
	}
}
