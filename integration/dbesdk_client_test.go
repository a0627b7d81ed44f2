package integration_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/ddbenctest"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/keyring"
)

// dbesdkClient returns a Client serving table in the DB-ESDK format (raw AES
// keyring; status signed, pageviews and the note_ prefix allowed unsigned,
// everything else encrypted) and the plain client under it.
func dbesdkClient(t *testing.T, table string) (*ddbenc.Client, *dynamodb.Client) {
	t.Helper()
	kr, err := keyring.NewRawAES("integration", "dbesdk-client", bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	ddb, _ := plain(ddbenctest.East)
	c, err := ddbenc.NewClient(ddb, []ddbenc.TableConfig{{
		TableName: table, PartitionKey: "pk", SortKey: "sk", Format: ddbenc.DBESDKFormat, Keyring: kr,
		Actions: actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{
			"status": actions.SignOnly, "pageviews": actions.DoNothing,
		}},
		AllowedUnsignedAttributes:      []string{"pageviews"},
		AllowedUnsignedAttributePrefix: "note_",
	}})
	if err != nil {
		t.Fatal(err)
	}
	return c, ddb
}

// TestDBESDKClientOperations runs every operation of the Client against
// DynamoDB Local on a DB-ESDK table.
func TestDBESDKClientOperations(t *testing.T) {
	need(t)
	ctx := context.Background()
	table := newTable(t)
	c, ddb := dbesdkClient(t, table)
	num := func(v string) *types.AttributeValueMemberN { return &types.AttributeValueMemberN{Value: v} }
	str := func(v string) *types.AttributeValueMemberS { return &types.AttributeValueMemberS{Value: v} }

	// PutItem, conditional: the first succeeds, the second fails.
	const n = 23
	for i := 0; i < n; i++ {
		if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item("alice", i, fmt.Sprint("secret ", i)),
			ConditionExpression: aws.String("attribute_not_exists(pk)")}); err != nil {
			t.Fatal(err)
		}
	}
	var ccf *types.ConditionalCheckFailedException
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item("alice", 0, "again"),
		ConditionExpression: aws.String("attribute_not_exists(pk)")}); !errors.As(err, &ccf) {
		t.Fatalf("conditional put over an existing item: %v, want ConditionalCheckFailedException", err)
	}

	// The stored item is a DB-ESDK item; the secret is not visible.
	raw, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("alice", 1)})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"aws_dbe_head", "aws_dbe_foot"} {
		if _, ok := raw.Item[a]; !ok {
			t.Errorf("stored item has no %s", a)
		}
	}
	if b, ok := raw.Item["secret"].(*types.AttributeValueMemberB); !ok || bytes.Contains(b.Value, []byte("secret 1")) {
		t.Errorf("stored secret is %T, want ciphertext", raw.Item["secret"])
	}

	// GetItem, whole and projected.
	got, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("alice", 1)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := avtest.DiffItems(item("alice", 1, "secret 1"), got.Item); diff != "" {
		t.Errorf("GetItem (-want +got):\n%s", diff)
	}
	got, err = c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("alice", 1), ProjectionExpression: aws.String("secret")})
	if err != nil {
		t.Fatal(err)
	}
	if diff := avtest.DiffItems(map[string]types.AttributeValue{"secret": str("secret 1")}, got.Item); diff != "" {
		t.Errorf("projected GetItem (-want +got):\n%s", diff)
	}

	// A paginated Query with a filter on a signed attribute, and a Scan.
	pages, seen := 0, 0
	p := dynamodb.NewQueryPaginator(c, &dynamodb.QueryInput{TableName: &table, Limit: aws.Int32(5),
		KeyConditionExpression: aws.String("pk = :p"), FilterExpression: aws.String("#s = :a"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str("alice"), ":a": str("active")}})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, it := range out.Items {
			if diff := avtest.DiffItems(item("alice", seen, fmt.Sprint("secret ", seen)), it); diff != "" {
				t.Errorf("Query item %d (-want +got):\n%s", seen, diff)
			}
			seen++
		}
	}
	if seen != n || pages < 5 {
		t.Errorf("Query: %d items in %d pages, want %d items in at least 5 pages", seen, pages, n)
	}
	scan, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: &table, ProjectionExpression: aws.String("pk, sk, secret")})
	if err != nil {
		t.Fatal(err)
	}
	if len(scan.Items) != n || len(scan.Items[0]) != 3 {
		t.Errorf("Scan: %d items (first %v)", len(scan.Items), avtest.NormalizeItem(scan.Items[0]))
	}

	// UpdateItem of an allowed unsigned attribute, by name and by prefix.
	up, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: keyOf("alice", 2),
		UpdateExpression:          aws.String("SET pageviews = pageviews + :one, note_a = :x"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": num("1"), ":x": str("hi")}, ReturnValues: types.ReturnValueAllNew})
	if err != nil {
		t.Fatal(err)
	}
	want := item("alice", 2, "secret 2")
	want["pageviews"], want["note_a"] = num("1"), str("hi")
	if diff := avtest.DiffItems(want, up.Attributes); diff != "" {
		t.Errorf("UpdateItem ALL_NEW (-want +got):\n%s", diff)
	}
	// ... of a missing item: the added attribute_exists fails it.
	if _, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: keyOf("nobody", 1),
		UpdateExpression: aws.String("SET pageviews = :one"), ExpressionAttributeValues: map[string]types.AttributeValue{":one": num("1")}}); !errors.As(err, &ccf) {
		t.Errorf("update of a missing item: %v, want ConditionalCheckFailedException", err)
	}
	if none, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("nobody", 1)}); err != nil || none.Item != nil {
		t.Errorf("update of a missing item created %v (%v)", none.Item, err)
	}
	// ... of a signed or encrypted attribute, and a write of aws_dbe_: refused.
	for _, a := range []string{"status", "secret"} {
		if _, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: keyOf("alice", 2),
			UpdateExpression: aws.String("SET #a = :x"), ExpressionAttributeNames: map[string]string{"#a": a},
			ExpressionAttributeValues: map[string]types.AttributeValue{":x": str("x")}}); !errors.Is(err, ddbenc.ErrUnsupportedOperation) {
			t.Errorf("update of %s: %v, want ErrUnsupportedOperation", a, err)
		}
	}
	bad := item("alice", 99, "x")
	bad["aws_dbe_x"] = str("x")
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: bad}); !errors.Is(err, ddbenc.ErrInvalidItem) {
		t.Errorf("put of aws_dbe_x: %v, want ErrInvalidItem", err)
	}

	// DeleteItem with a condition on a signed attribute, ALL_OLD decrypted.
	del, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &table, Key: keyOf("alice", 3),
		ConditionExpression: aws.String("#s = :a"), ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":a": str("active")}, ReturnValues: types.ReturnValueAllOld})
	if err != nil {
		t.Fatal(err)
	}
	if diff := avtest.DiffItems(item("alice", 3, "secret 3"), del.Attributes); diff != "" {
		t.Errorf("DeleteItem ALL_OLD (-want +got):\n%s", diff)
	}

	// BatchWriteItem and BatchGetItem.
	var wrs []types.WriteRequest
	for i := 0; i < 5; i++ {
		wrs = append(wrs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item("bob", i, fmt.Sprint("bob ", i))}})
	}
	wrs = append(wrs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: keyOf("alice", 4)}})
	bw, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: wrs}})
	if err != nil {
		t.Fatal(err)
	}
	if len(bw.UnprocessedItems) != 0 {
		t.Fatalf("unprocessed items: %v", bw.UnprocessedItems)
	}
	var keys []map[string]types.AttributeValue
	for i := 0; i < 5; i++ {
		keys = append(keys, keyOf("bob", i))
	}
	keys = append(keys, keyOf("alice", 4))
	bg, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{table: {Keys: keys}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(bg.Responses[table]) != 5 {
		t.Errorf("BatchGetItem: %d items, want 5", len(bg.Responses[table]))
	}
	for _, it := range bg.Responses[table] {
		if it["pk"].(*types.AttributeValueMemberS).Value != "bob" {
			t.Errorf("BatchGetItem returned %v", avtest.NormalizeItem(it))
			continue
		}
		i := it["sk"].(*types.AttributeValueMemberN).Value
		if diff := avtest.DiffItems(item("bob", atoi(t, i), "bob "+i), it); diff != "" {
			t.Errorf("BatchGetItem item (-want +got):\n%s", diff)
		}
	}

	// TransactWriteItems: put, update, condition check, delete; then
	// TransactGetItems. A failing condition cancels the transaction.
	active := map[string]types.AttributeValue{":a": str("active")}
	if _, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &table, Item: item("carol", 1, "carol 1")}},
		{Update: &types.Update{TableName: &table, Key: keyOf("bob", 0), UpdateExpression: aws.String("SET pageviews = :v"), ExpressionAttributeValues: map[string]types.AttributeValue{":v": num("7")}}},
		{ConditionCheck: &types.ConditionCheck{TableName: &table, Key: keyOf("bob", 1), ConditionExpression: aws.String("#s = :a"), ExpressionAttributeNames: map[string]string{"#s": "status"}, ExpressionAttributeValues: active}},
		{Delete: &types.Delete{TableName: &table, Key: keyOf("bob", 2)}},
	}}); err != nil {
		t.Fatal(err)
	}
	tg, err := c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{
		{Get: &types.Get{TableName: &table, Key: keyOf("carol", 1)}},
		{Get: &types.Get{TableName: &table, Key: keyOf("bob", 0), ProjectionExpression: aws.String("pageviews, secret")}},
		{Get: &types.Get{TableName: &table, Key: keyOf("bob", 2)}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := avtest.DiffItems(item("carol", 1, "carol 1"), tg.Responses[0].Item); diff != "" {
		t.Errorf("TransactGetItems put item (-want +got):\n%s", diff)
	}
	if diff := avtest.DiffItems(map[string]types.AttributeValue{"pageviews": num("7"), "secret": str("bob 0")}, tg.Responses[1].Item); diff != "" {
		t.Errorf("TransactGetItems updated item (-want +got):\n%s", diff)
	}
	if tg.Responses[2].Item != nil {
		t.Errorf("deleted item still there: %v", avtest.NormalizeItem(tg.Responses[2].Item))
	}
	var tce *types.TransactionCanceledException
	if _, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &table, Item: item("carol", 2, "carol 2")}},
		{Update: &types.Update{TableName: &table, Key: keyOf("nobody", 9), UpdateExpression: aws.String("SET pageviews = :v"), ExpressionAttributeValues: map[string]types.AttributeValue{":v": num("1")}}},
	}}); !errors.As(err, &tce) {
		t.Errorf("transaction updating a missing item: %v, want TransactionCanceledException", err)
	}
	if g, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("carol", 2)}); err != nil || g.Item != nil {
		t.Errorf("cancelled transaction wrote %v (%v)", g.Item, err)
	}
	if _, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{ConditionCheck: &types.ConditionCheck{TableName: &table, Key: keyOf("bob", 1), ConditionExpression: aws.String("attribute_exists(aws_dbe_head)")}},
	}}); !errors.Is(err, ddbenc.ErrUnsupportedOperation) {
		t.Errorf("condition check on aws_dbe_head: %v, want ErrUnsupportedOperation", err)
	}
}

// TestDBESDKClientTampering: changes made through the plain client to signed
// content fail verification; changes to allowed unsigned attributes do not.
func TestDBESDKClientTampering(t *testing.T) {
	need(t)
	ctx := context.Background()
	table := newTable(t)
	c, ddb := dbesdkClient(t, table)
	for i := 0; i < 4; i++ {
		if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item("alice", i, "s3cr3t")}); err != nil {
			t.Fatal(err)
		}
	}
	other, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("alice", 3)})
	if err != nil {
		t.Fatal(err)
	}
	set := func(i int, expr string, vals map[string]types.AttributeValue) {
		t.Helper()
		var names map[string]string
		if strings.Contains(expr, "#s") {
			names = map[string]string{"#s": "status"}
		}
		if _, err := ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: keyOf("alice", i), UpdateExpression: aws.String(expr),
			ExpressionAttributeNames: names, ExpressionAttributeValues: vals}); err != nil {
			t.Fatal(err)
		}
	}
	str := func(v string) *types.AttributeValueMemberS { return &types.AttributeValueMemberS{Value: v} }
	set(0, "SET #s = :v", map[string]types.AttributeValue{":v": str("inactive")})
	set(1, "SET secret = :v", map[string]types.AttributeValue{":v": other.Item["secret"]}) // another item's ciphertext
	set(2, "SET extra = :v", map[string]types.AttributeValue{":v": str("x")})              // an attribute outside the configuration
	set(3, "SET pageviews = :v, note_b = :w", map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: "100"}, ":w": str("w")})
	for i := 0; i < 3; i++ {
		if _, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("alice", i)}); !errors.Is(err, ddbenc.ErrSignature) {
			t.Errorf("tampered item %d: %v, want ErrSignature", i, err)
		} else if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("error shows a value: %v", err)
		}
	}
	got, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("alice", 3)})
	if err != nil {
		t.Fatalf("item with changed allowed unsigned attributes: %v", err)
	}
	want := item("alice", 3, "s3cr3t")
	want["pageviews"], want["note_b"] = &types.AttributeValueMemberN{Value: "100"}, str("w")
	if diff := avtest.DiffItems(want, got.Item); diff != "" {
		t.Errorf("GetItem (-want +got):\n%s", diff)
	}
	if _, err := c.Query(ctx, &dynamodb.QueryInput{TableName: &table, KeyConditionExpression: aws.String("pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str("alice")}}); !errors.Is(err, ddbenc.ErrSignature) {
		t.Errorf("Query over tampered items: %v, want ErrSignature", err)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var i int
	if _, err := fmt.Sscan(s, &i); err != nil {
		t.Fatal(err)
	}
	return i
}
