package integration_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/ddbenctest"
)

// newIndexedTable creates a table (pk S, sk N) with a GSI byEmail (email S)
// and an LSI byDate (pk, date S).
func newIndexedTable(t *testing.T) string {
	t.Helper()
	name := newTableName(t)
	ctx := context.Background()
	ddb := env.DynamoDB(ddbenctest.East)
	s := func(n string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS}
	}
	_, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   &name,
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{s("pk"), s("email"), s("date"),
			{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeN}},
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange}},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{IndexName: aws.String("byEmail"),
			KeySchema:  []types.KeySchemaElement{{AttributeName: aws.String("email"), KeyType: types.KeyTypeHash}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll}}},
		LocalSecondaryIndexes: []types.LocalSecondaryIndex{{IndexName: aws.String("byDate"),
			KeySchema:  []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("date"), KeyType: types.KeyTypeRange}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := dynamodb.NewTableExistsWaiter(ddb).Wait(ctx, &dynamodb.DescribeTableInput{TableName: &name}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestSecondaryIndexes: index keys are never encrypted, whether the indexes
// come from DescribeTable or from the configuration; what DynamoDB would
// refuse with "Type mismatch for Index Key" never reaches it; Queries on both
// indexes work, paginated, with their ExclusiveStartKeys checked.
func TestSecondaryIndexes(t *testing.T) {
	need(t)
	ctx := context.Background()
	table := newIndexedTable(t)
	p := kmsProvider(t, ddbenctest.East, env.PrimaryARN)

	// What our check prevents: an encrypted (binary) GSI key is refused by
	// DynamoDB itself.
	ddb, cnt := plain(ddbenctest.East)
	_, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "x"}, "sk": &types.AttributeValueMemberN{Value: "1"}, "email": &types.AttributeValueMemberB{Value: []byte{1, 2}}}})
	if err == nil || !strings.Contains(err.Error(), "Type mismatch") {
		t.Fatalf("plain put of a binary GSI key: %v; want DynamoDB's type mismatch", err)
	}

	// Discovered schema, default encrypt, index keys not set: refused, and
	// nothing but the DescribeTable is sent.
	before := cnt.n.Load()
	c, err := ddbenc.NewClient(ddb, []ddbenc.TableConfig{{TableName: table, Actions: actions.Map{Default: actions.EncryptAndSign}, Provider: p}})
	if err != nil {
		t.Fatal(err)
	}
	row := func(sk, email, date string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "user"}, "sk": &types.AttributeValueMemberN{Value: sk},
			"email": &types.AttributeValueMemberS{Value: email}, "date": &types.AttributeValueMemberS{Value: date},
			"ssn": &types.AttributeValueMemberS{Value: "ssn-" + sk},
		}
	}
	_, err = c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: row("1", "a@example.com", "2026-01-01")})
	var de *ddbenc.Error
	if !errors.Is(err, ddbenc.ErrInvalidConfig) || !errors.As(err, &de) || (de.Attribute != "email" && de.Attribute != "date") {
		t.Fatalf("put with default-encrypted index keys: %v; want ErrInvalidConfig naming an index key", err)
	}
	if n := cnt.n.Load() - before; n != 1 {
		t.Errorf("%d requests sent, want 1 (DescribeTable)", n)
	}

	indexActs := actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{"email": actions.SignOnly, "date": actions.SignOnly}}
	configured := ddbenc.TableConfig{TableName: table, PartitionKey: "pk", SortKey: "sk", Actions: indexActs, Provider: p,
		Indexes: []ddbenc.Index{{Name: "byEmail", PartitionKey: "email"}, {Name: "byDate", PartitionKey: "pk", SortKey: "date"}}}
	discovered := ddbenc.TableConfig{TableName: table, Actions: indexActs, Provider: p}
	for name, cfg := range map[string]ddbenc.TableConfig{"configured": configured, "discovered": discovered} {
		t.Run(name, func(t *testing.T) {
			c, err := ddbenc.NewClient(ddb, []ddbenc.TableConfig{cfg})
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range []map[string]types.AttributeValue{
				row("1", "a@example.com", "2026-01-03"), row("2", "a@example.com", "2026-01-02"), row("3", "b@example.com", "2026-01-01"),
			} {
				if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: r}); err != nil {
					t.Fatalf("put %d: %v", i, err)
				}
			}
			// GSI, one item per page: the paginator sends the GSI's
			// ExclusiveStartKey (table and index keys) back through the checks.
			var ssns []string
			pages := dynamodb.NewQueryPaginator(c, &dynamodb.QueryInput{TableName: &table, IndexName: aws.String("byEmail"), Limit: aws.Int32(1),
				KeyConditionExpression:    aws.String("email = :e"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":e": &types.AttributeValueMemberS{Value: "a@example.com"}}})
			for pages.HasMorePages() {
				out, err := pages.NextPage(ctx)
				if err != nil {
					t.Fatalf("GSI query: %v", err)
				}
				for _, it := range out.Items {
					ssns = append(ssns, it["ssn"].(*types.AttributeValueMemberS).Value)
				}
			}
			if len(ssns) != 2 {
				t.Errorf("GSI query returned %v, want the two items of a@example.com", ssns)
			}
			// LSI, ordered by date, one per page.
			var order []string
			lsi := dynamodb.NewQueryPaginator(c, &dynamodb.QueryInput{TableName: &table, IndexName: aws.String("byDate"), Limit: aws.Int32(1),
				KeyConditionExpression:    aws.String("pk = :p AND #d >= :d"),
				ExpressionAttributeNames:  map[string]string{"#d": "date"},
				ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "user"}, ":d": &types.AttributeValueMemberS{Value: "2026"}}})
			for lsi.HasMorePages() {
				out, err := lsi.NextPage(ctx)
				if err != nil {
					t.Fatalf("LSI query: %v", err)
				}
				for _, it := range out.Items {
					order = append(order, it["ssn"].(*types.AttributeValueMemberS).Value)
				}
			}
			if strings.Join(order, ",") != "ssn-3,ssn-2,ssn-1" {
				t.Errorf("LSI query order %v, want ssn-3,ssn-2,ssn-1", order)
			}
			// An index key stays a string in the table, so DynamoDB indexes it.
			raw, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("user", 1)})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := raw.Item["email"].(*types.AttributeValueMemberS); !ok {
				t.Errorf("stored email is %T, want S", raw.Item["email"])
			}
			if _, ok := raw.Item["ssn"].(*types.AttributeValueMemberB); !ok {
				t.Errorf("stored ssn is %T, want B (encrypted)", raw.Item["ssn"])
			}
			// A query on an index the Client does not know is refused.
			before := cnt.n.Load()
			_, err = c.Query(ctx, &dynamodb.QueryInput{TableName: &table, IndexName: aws.String("bySSN"), KeyConditionExpression: aws.String("ssn = :s"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: "x"}}})
			if !errors.Is(err, ddbenc.ErrInvalidConfig) || cnt.n.Load() != before {
				t.Errorf("query on an unknown index: %v, %d sent", err, cnt.n.Load()-before)
			}
		})
	}
}

// TestUpdateOfMissingItemCreatesNothing: the wrapper's attribute_exists
// condition turns an update of a missing key into ConditionalCheckFailed
// instead of an unsigned item.
func TestUpdateOfMissingItemCreatesNothing(t *testing.T) {
	need(t)
	ctx := context.Background()
	table := newTable(t)
	c, ddb, _ := wrapped(t, table)
	_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: keyOf("ghost", 1),
		UpdateExpression:          aws.String("SET pageviews = :one"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}}})
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Fatalf("update of a missing item: %v, want ConditionalCheckFailedException", err)
	}
	raw, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("ghost", 1)})
	if err != nil {
		t.Fatal(err)
	}
	if raw.Item != nil {
		t.Errorf("the update created an item: %v", raw.Item)
	}
	// With the caller's own condition, and the legacy parameters, too.
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item("real", 1, "s")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: keyOf("real", 1),
		UpdateExpression: aws.String("SET pageviews = :one"), ConditionExpression: aws.String("pageviews < :one"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}}}); err != nil {
		t.Errorf("update of an existing item with a condition: %v", err)
	}
	_, err = c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: keyOf("ghost", 2),
		AttributeUpdates: map[string]types.AttributeValueUpdate{"pageviews": {Action: types.AttributeActionPut, Value: &types.AttributeValueMemberN{Value: "1"}}}})
	if !errors.As(err, &ccf) {
		t.Errorf("legacy update of a missing item: %v, want ConditionalCheckFailedException", err)
	}
	got, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("real", 1)})
	if err != nil || got.Item["pageviews"].(*types.AttributeValueMemberN).Value != "1" {
		t.Errorf("after the update: %v, %v", got, err)
	}
}
