// Package integration tests the encrypting client against DynamoDB Local and
// the fake KMS over HTTP, through the real SDK clients. With CI=true a
// DynamoDB Local that cannot start is a failure, not a skip.
package integration_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/ddbenctest"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/internal/legacy"
	"github.com/ddbec/ddbec-go/provider"
	"github.com/ddbec/ddbec-go/signing"
)

var (
	env      *ddbenctest.Env
	startErr error
)

func TestMain(m *testing.M) {
	if os.Getenv(envJobWorker) != "" { // a worker process of TestTableJobKillResume
		os.Exit(tableJobWorkerMain())
	}
	// The zero EnvOptions: an in-process fake KMS, whose hooks (counters,
	// key states) the tests use.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	env, startErr = ddbenctest.NewEnv(ctx, ddbenctest.EnvOptions{})
	cancel()
	code := m.Run()
	if env != nil {
		if err := env.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "replication:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// need fails (CI=true) or skips (explicitly, with the reason) when the local
// world could not start.
func need(t *testing.T) {
	t.Helper()
	if startErr == nil {
		return
	}
	ddbenctest.SkipUnavailable(t, "DynamoDB Local / fake KMS", startErr)
}

// counter counts HTTP requests a client sends.
type counter struct {
	n    atomic.Int64
	next *http.Client
}

func (c *counter) Do(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.Do(r)
}

// plain returns a plain DynamoDB client for region and its request counter.
func plain(region string) (*dynamodb.Client, *counter) {
	c := &counter{next: http.DefaultClient}
	return env.DynamoDB(region, func(o *dynamodb.Options) { o.HTTPClient = c }), c
}

var tableSeq atomic.Int64

// newTable creates a fresh table (pk S, sk N) in us-east-1 and returns its name.
func newTable(t *testing.T) string {
	t.Helper()
	name := newTableName(t)
	if err := ddbenctest.CreateTable(context.Background(), env.DynamoDB(ddbenctest.East), name,
		ddbenctest.Key{Name: "pk", Type: types.ScalarAttributeTypeS}, ddbenctest.Key{Name: "sk", Type: types.ScalarAttributeTypeN}, false); err != nil {
		t.Fatal(err)
	}
	return name
}

// newTableName returns a fresh table name for the test.
func newTableName(t *testing.T) string {
	name := fmt.Sprintf("t%d_%s", tableSeq.Add(1), strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, t.Name()))
	if len(name) > 200 {
		name = name[:200]
	}
	return name
}

var testActions = actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{
	"status": actions.SignOnly, "pageviews": actions.DoNothing, "note": actions.DoNothing,
}}

func kmsProvider(t *testing.T, region, arn string) *provider.DirectKMS {
	t.Helper()
	p, err := provider.NewDirectKMS(env.KMSClient(region), arn)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// wrapped returns an encrypting client over a counted plain client.
func wrapped(t *testing.T, table string, optFns ...func(*ddbenc.Options)) (*ddbenc.Client, *dynamodb.Client, *counter) {
	t.Helper()
	ddb, cnt := plain(ddbenctest.East)
	c, err := ddbenc.NewClient(ddb, []ddbenc.TableConfig{{
		TableName: table, PartitionKey: "pk", SortKey: "sk", Actions: testActions, Provider: kmsProvider(t, ddbenctest.East, env.PrimaryARN),
	}}, optFns...)
	if err != nil {
		t.Fatal(err)
	}
	return c, ddb, cnt
}

func item(pk string, sk int, secret string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk":        &types.AttributeValueMemberS{Value: pk},
		"sk":        &types.AttributeValueMemberN{Value: fmt.Sprint(sk)},
		"secret":    &types.AttributeValueMemberS{Value: secret},
		"tags":      &types.AttributeValueMemberSS{Value: []string{"a", "b"}},
		"status":    &types.AttributeValueMemberS{Value: "active"},
		"pageviews": &types.AttributeValueMemberN{Value: "0"},
	}
}

func keyOf(pk string, sk int) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberN{Value: fmt.Sprint(sk)}}
}

func TestPutGetAndPlainView(t *testing.T) {
	need(t)
	ctx := context.Background()
	table := newTable(t)
	c, ddb, _ := wrapped(t, table)
	want := item("alice", 1, "s3cr3t")
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: want}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("alice", 1)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := avtest.DiffItems(want, got.Item); diff != "" {
		t.Errorf("GetItem (-want +got):\n%s", diff)
	}
	// A plain client sees ciphertext for encrypted attributes only.
	raw, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("alice", 1)})
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range raw.Item {
		_, isB := v.(*types.AttributeValueMemberB)
		switch name {
		case "secret", "tags", legacy.SignatureAttribute, legacy.MaterialDescriptionAttribute:
			if !isB {
				t.Errorf("stored %s is %T, want B", name, v)
			}
		default:
			if isB {
				t.Errorf("stored %s is binary, want plaintext", name)
			}
		}
		if s, ok := v.(*types.AttributeValueMemberS); ok && strings.Contains(s.Value, "s3cr3t") {
			t.Errorf("plaintext secret visible in %s", name)
		}
	}
	// Missing item: no error, no item.
	none, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("nobody", 1)})
	if err != nil || none.Item != nil {
		t.Errorf("missing item: %v, %v", none.Item, err)
	}
	// Projection: applied after verification.
	proj, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("alice", 1),
		ProjectionExpression: aws.String("#s, pk"), ExpressionAttributeNames: map[string]string{"#s": "secret"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(proj.Item) != 2 || proj.Item["secret"].(*types.AttributeValueMemberS).Value != "s3cr3t" {
		t.Errorf("projected item %v", avtest.NormalizeItem(proj.Item))
	}
}

func TestGlobalTableBothDirections(t *testing.T) {
	need(t)
	ctx := context.Background()
	table := fmt.Sprintf("global%d", tableSeq.Add(1))
	if err := env.CreateGlobalTable(ctx, table, ddbenctest.Key{Name: "pk", Type: types.ScalarAttributeTypeS}, ddbenctest.Key{Name: "sk", Type: types.ScalarAttributeTypeN}); err != nil {
		t.Fatal(err)
	}
	clientIn := func(region, arn string) *ddbenc.Client {
		c, err := ddbenc.NewClient(env.DynamoDB(region), []ddbenc.TableConfig{{TableName: table, PartitionKey: "pk", SortKey: "sk", Actions: testActions, Provider: kmsProvider(t, region, arn)}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	east, west := clientIn(ddbenctest.East, env.PrimaryARN), clientIn(ddbenctest.West, env.ReplicaARN)
	for _, dir := range []struct {
		name     string
		from, to *ddbenc.Client
		toRegion string
	}{{"east to west", east, west, ddbenctest.West}, {"west to east", west, east, ddbenctest.East}} {
		want := item(dir.name, 1, "pii for "+dir.name)
		if _, err := dir.from.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: want}); err != nil {
			t.Fatalf("%s: PutItem: %v", dir.name, err)
		}
		if _, err := ddbenctest.WaitForItem(ctx, env.DynamoDB(dir.toRegion), table, keyOf(dir.name, 1), 30*time.Second, nil); err != nil {
			t.Fatalf("%s: %v", dir.name, err)
		}
		before := env.KMS.Calls()
		got, err := dir.to.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf(dir.name, 1)})
		if err != nil {
			t.Fatalf("%s: GetItem: %v", dir.name, err)
		}
		if diff := avtest.DiffItems(want, got.Item); diff != "" {
			t.Errorf("%s (-want +got):\n%s", dir.name, diff)
		}
		for _, c := range env.KMS.Calls()[len(before):] {
			if c.Region != dir.toRegion {
				t.Errorf("%s: reader called KMS in %s", dir.name, c.Region)
			}
		}
	}
}

func TestTamperingThroughPlainClient(t *testing.T) {
	need(t)
	ctx := context.Background()
	table := newTable(t)
	c, ddb, _ := wrapped(t, table)
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item("bob", 1, "x")}); err != nil {
		t.Fatal(err)
	}
	for name, update := range map[string]string{
		"signed attribute changed":  "SET #a = :v",
		"signed attribute removed":  "REMOVE #a",
		"new signed attribute":      "SET newattr = :v",
		"encrypted value replaced":  "SET secret = :b",
		"do-nothing change is fine": "SET pageviews = :n",
	} {
		in := &dynamodb.UpdateItemInput{TableName: &table, Key: keyOf("bob", 1), UpdateExpression: &update,
			ExpressionAttributeValues: map[string]types.AttributeValue{}}
		if strings.Contains(update, "#a") {
			in.ExpressionAttributeNames = map[string]string{"#a": "status"}
		}
		if strings.Contains(update, ":v") {
			in.ExpressionAttributeValues[":v"] = &types.AttributeValueMemberS{Value: "tampered"}
		}
		if strings.Contains(update, ":b") {
			in.ExpressionAttributeValues[":b"] = &types.AttributeValueMemberB{Value: make([]byte, 48)}
		}
		if strings.Contains(update, ":n") {
			in.ExpressionAttributeValues[":n"] = &types.AttributeValueMemberN{Value: "99"}
		}
		if len(in.ExpressionAttributeValues) == 0 {
			in.ExpressionAttributeValues = nil
		}
		// Restore the original first.
		if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item("bob", 1, "x")}); err != nil {
			t.Fatal(err)
		}
		if _, err := ddb.UpdateItem(ctx, in); err != nil {
			t.Fatalf("%s: plain UpdateItem: %v", name, err)
		}
		got, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("bob", 1)})
		if name == "do-nothing change is fine" {
			if err != nil || got.Item["pageviews"].(*types.AttributeValueMemberN).Value != "99" {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		var de *ddbenc.Error
		if !errors.Is(err, ddbenc.ErrSignature) || got != nil || !errors.As(err, &de) || de.Table != table {
			t.Errorf("%s: GetItem = %v, %v; want ErrSignature naming the table", name, got != nil, err)
		}
	}
}

func TestQueryAndScanPaginated(t *testing.T) {
	need(t)
	ctx := context.Background()
	table := newTable(t)
	c, _, cnt := wrapped(t, table)
	const n = 23
	for i := range n {
		it := item("team", i, fmt.Sprintf("secret-%d", i))
		if i%2 == 0 {
			it["status"] = &types.AttributeValueMemberS{Value: "inactive"}
		}
		if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	var got []map[string]types.AttributeValue
	pages := 0
	qp := dynamodb.NewQueryPaginator(c, &dynamodb.QueryInput{TableName: &table, Limit: aws.Int32(5),
		KeyConditionExpression:    aws.String("pk = :p AND sk >= :zero"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "team"}, ":zero": &types.AttributeValueMemberN{Value: "0"}}})
	for qp.HasMorePages() {
		page, err := qp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, page.Items...)
	}
	if len(got) != n || pages < 5 {
		t.Fatalf("Query paginator: %d items in %d pages", len(got), pages)
	}
	if s := got[7]["secret"].(*types.AttributeValueMemberS).Value; s != "secret-7" {
		t.Errorf("item 7 secret %q", s)
	}
	// Scan with a filter on a sign-only attribute and a projection.
	var scanned []map[string]types.AttributeValue
	sp := dynamodb.NewScanPaginator(c, &dynamodb.ScanInput{TableName: &table, Limit: aws.Int32(4),
		FilterExpression: aws.String("#st = :a"), ProjectionExpression: aws.String("sk, secret"),
		ExpressionAttributeNames:  map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":a": &types.AttributeValueMemberS{Value: "active"}}})
	for sp.HasMorePages() {
		page, err := sp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		scanned = append(scanned, page.Items...)
	}
	if len(scanned) != n/2 {
		t.Fatalf("Scan: %d items, want %d", len(scanned), n/2)
	}
	for _, it := range scanned {
		if len(it) != 2 || it["secret"] == nil || it["sk"] == nil {
			t.Fatalf("projected scan item %v", avtest.NormalizeItem(it))
		}
	}
	// Filters and key conditions on encrypted attributes fail before any request.
	before := cnt.n.Load()
	_, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: &table, FilterExpression: aws.String("secret = :s"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: "x"}}})
	if !errors.Is(err, ddbenc.ErrUnsupportedOperation) {
		t.Errorf("Scan filter on encrypted attribute: %v", err)
	}
	_, err = c.Query(ctx, &dynamodb.QueryInput{TableName: &table, KeyConditionExpression: aws.String("pk = :p"),
		FilterExpression:          aws.String("contains(#t, :s)"),
		ExpressionAttributeNames:  map[string]string{"#t": "tags"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "team"}, ":s": &types.AttributeValueMemberS{Value: "a"}}})
	if !errors.Is(err, ddbenc.ErrUnsupportedOperation) {
		t.Errorf("Query filter on encrypted attribute: %v", err)
	}
	if cnt.n.Load() != before {
		t.Errorf("%d requests sent for refused calls", cnt.n.Load()-before)
	}
}

func TestQueryFailsOnOneTamperedItem(t *testing.T) {
	need(t)
	ctx := context.Background()
	table := newTable(t)
	c, ddb, _ := wrapped(t, table)
	for i := range 3 {
		if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item("q", i, "s")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: keyOf("q", 1),
		UpdateExpression: aws.String("SET #s = :v"), ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: "evil"}}}); err != nil {
		t.Fatal(err)
	}
	out, err := c.Query(ctx, &dynamodb.QueryInput{TableName: &table, KeyConditionExpression: aws.String("pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "q"}}})
	var de *ddbenc.Error
	if !errors.Is(err, ddbenc.ErrSignature) || out != nil || !errors.As(err, &de) || !strings.Contains(de.Key, `"sk":{"N":"1"}`) {
		t.Fatalf("Query with a tampered item: %v, %v; want ErrSignature naming sk 1", out != nil, err)
	}
}

func TestBatchWriteAndBatchGet(t *testing.T) {
	need(t)
	ctx := context.Background()
	table := newTable(t)
	c, _, _ := wrapped(t, table)
	var writes []types.WriteRequest
	for i := range 10 {
		writes = append(writes, types.WriteRequest{PutRequest: &types.PutRequest{Item: item("batch", i, fmt.Sprint("b", i))}})
	}
	out, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: writes}})
	if err != nil || len(out.UnprocessedItems[table]) != 0 {
		t.Fatalf("BatchWriteItem: %v, unprocessed %d", err, len(out.UnprocessedItems[table]))
	}
	var keys []map[string]types.AttributeValue
	for i := range 10 {
		keys = append(keys, keyOf("batch", i))
	}
	got, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
		table: {Keys: keys, ProjectionExpression: aws.String("sk, #s"), ExpressionAttributeNames: map[string]string{"#s": "secret"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Responses[table]) != 10 {
		t.Fatalf("BatchGetItem returned %d items", len(got.Responses[table]))
	}
	for _, it := range got.Responses[table] {
		if len(it) != 2 || !strings.HasPrefix(it["secret"].(*types.AttributeValueMemberS).Value, "b") {
			t.Errorf("batch item %v", avtest.NormalizeItem(it))
		}
	}
	// Deletes through BatchWriteItem.
	var deletes []types.WriteRequest
	for _, k := range keys[:5] {
		deletes = append(deletes, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}})
	}
	if _, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: deletes}}); err != nil {
		t.Fatal(err)
	}
	got, err = c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{table: {Keys: keys}}})
	if err != nil || len(got.Responses[table]) != 5 {
		t.Fatalf("after deletes: %d items, %v", len(got.Responses[table]), err)
	}
}

func TestDeleteAndConditionalWrites(t *testing.T) {
	need(t)
	ctx := context.Background()
	table := newTable(t)
	c, _, cnt := wrapped(t, table)
	orig := item("del", 1, "old-secret")
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: orig}); err != nil {
		t.Fatal(err)
	}
	// PutItem ALL_OLD comes back decrypted.
	put, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item("del", 1, "new-secret"), ReturnValues: types.ReturnValueAllOld})
	if err != nil || put.Attributes["secret"].(*types.AttributeValueMemberS).Value != "old-secret" {
		t.Fatalf("PutItem ALL_OLD: %v", err)
	}
	// A failed condition carries the old item, decrypted.
	_, err = c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item("del", 1, "x"),
		ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) || ccf.Item["secret"].(*types.AttributeValueMemberS).Value != "new-secret" {
		t.Fatalf("conditional put: %v", err)
	}
	// Conditions on encrypted attributes are refused before any request.
	before := cnt.n.Load()
	_, err = c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &table, Key: keyOf("del", 1), ConditionExpression: aws.String("secret = :s"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: "x"}}})
	if !errors.Is(err, ddbenc.ErrUnsupportedOperation) || cnt.n.Load() != before {
		t.Errorf("DeleteItem conditioned on an encrypted attribute: %v", err)
	}
	// Conditions on signed attributes work; ALL_OLD comes back decrypted.
	del, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &table, Key: keyOf("del", 1), ReturnValues: types.ReturnValueAllOld,
		ConditionExpression: aws.String("#s = :a"), ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":a": &types.AttributeValueMemberS{Value: "active"}}})
	if err != nil || del.Attributes["secret"].(*types.AttributeValueMemberS).Value != "new-secret" {
		t.Fatalf("DeleteItem ALL_OLD: %v", err)
	}
}

func TestUpdateItemOnlyDoNothing(t *testing.T) {
	need(t)
	ctx := context.Background()
	table := newTable(t)
	c, _, cnt := wrapped(t, table)
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item("up", 1, "s")}); err != nil {
		t.Fatal(err)
	}
	out, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: keyOf("up", 1),
		UpdateExpression: aws.String("SET pageviews = pageviews + :one, note = :n"), ReturnValues: types.ReturnValueAllNew,
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}, ":n": &types.AttributeValueMemberS{Value: "hi"}}})
	if err != nil {
		t.Fatalf("UpdateItem of do-nothing attributes: %v", err)
	}
	if out.Attributes["pageviews"].(*types.AttributeValueMemberN).Value != "1" || out.Attributes["secret"].(*types.AttributeValueMemberS).Value != "s" {
		t.Errorf("ALL_NEW %v", avtest.NormalizeItem(out.Attributes))
	}
	before := cnt.n.Load()
	for _, expr := range []string{"SET secret = :v", "SET #s = :v", "REMOVE tags", "SET pageviews = :v, #s = :v"} {
		_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: keyOf("up", 1), UpdateExpression: &expr,
			ExpressionAttributeNames:  map[string]string{"#s": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: "x"}}})
		if !errors.Is(err, ddbenc.ErrUnsupportedOperation) {
			t.Errorf("UpdateItem %q: %v", expr, err)
		}
	}
	if cnt.n.Load() != before {
		t.Errorf("%d requests sent for refused updates", cnt.n.Load()-before)
	}
}

func TestTransactions(t *testing.T) {
	need(t)
	ctx := context.Background()
	table := newTable(t)
	c, _, cnt := wrapped(t, table)
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item("tx", 0, "zero")}); err != nil {
		t.Fatal(err)
	}
	_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &table, Item: item("tx", 1, "one")}},
		{Put: &types.Put{TableName: &table, Item: item("tx", 2, "two")}},
		{Update: &types.Update{TableName: &table, Key: keyOf("tx", 0), UpdateExpression: aws.String("SET pageviews = :n"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberN{Value: "5"}}}},
	}})
	if err != nil {
		t.Fatalf("TransactWriteItems: %v", err)
	}
	got, err := c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{
		{Get: &types.Get{TableName: &table, Key: keyOf("tx", 0)}},
		{Get: &types.Get{TableName: &table, Key: keyOf("tx", 1), ProjectionExpression: aws.String("secret")}},
		{Get: &types.Get{TableName: &table, Key: keyOf("tx", 2)}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if s := got.Responses[0].Item["pageviews"].(*types.AttributeValueMemberN).Value; s != "5" {
		t.Errorf("tx 0 views %s", s)
	}
	if len(got.Responses[1].Item) != 1 || got.Responses[1].Item["secret"].(*types.AttributeValueMemberS).Value != "one" {
		t.Errorf("tx 1 projected %v", avtest.NormalizeItem(got.Responses[1].Item))
	}
	// A cancelled transaction: the reason's item comes back decrypted.
	_, err = c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &table, Item: item("tx", 1, "again"), ConditionExpression: aws.String("attribute_not_exists(pk)"),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}},
	}})
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) || len(tce.CancellationReasons) != 1 {
		t.Fatalf("cancelled transaction: %v", err)
	}
	if it := tce.CancellationReasons[0].Item; it == nil || it["secret"].(*types.AttributeValueMemberS).Value != "one" {
		t.Errorf("cancellation reason item %v", avtest.NormalizeItem(it))
	}
	// Refused before any request: a condition check on an encrypted attribute.
	before := cnt.n.Load()
	_, err = c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{ConditionCheck: &types.ConditionCheck{TableName: &table, Key: keyOf("tx", 1), ConditionExpression: aws.String("secret = :s"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: "one"}}}},
	}})
	if !errors.Is(err, ddbenc.ErrUnsupportedOperation) || cnt.n.Load() != before {
		t.Errorf("transaction condition on encrypted attribute: %v", err)
	}
}

func TestRefusedBeforeAnyRequest(t *testing.T) {
	need(t)
	ctx := context.Background()
	table := newTable(t)
	c, _, cnt := wrapped(t, table)
	stmt := aws.String(`SELECT * FROM "` + table + `"`)
	calls := map[string]func() error{
		"ExecuteStatement": func() error {
			_, err := c.ExecuteStatement(ctx, &dynamodb.ExecuteStatementInput{Statement: stmt})
			return err
		},
		"BatchExecuteStatement": func() error {
			_, err := c.BatchExecuteStatement(ctx, &dynamodb.BatchExecuteStatementInput{Statements: []types.BatchStatementRequest{{Statement: stmt}}})
			return err
		},
		"ExecuteTransaction": func() error {
			_, err := c.ExecuteTransaction(ctx, &dynamodb.ExecuteTransactionInput{TransactStatements: []types.ParameterizedStatement{{Statement: stmt}}})
			return err
		},
		"nested projection": func() error {
			_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("x", 1), ProjectionExpression: aws.String("tags[0]")})
			return err
		},
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ddbenc.ErrUnsupportedOperation) {
			t.Errorf("%s: %v, want ErrUnsupportedOperation", name, err)
		}
	}
	other := "unconfigured"
	if _, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &other, Key: keyOf("x", 1)}); !errors.Is(err, ddbenc.ErrUnknownTable) {
		t.Errorf("unknown table: %v", err)
	}
	if n := cnt.n.Load(); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestPassThroughAndDescribedKeys(t *testing.T) {
	need(t)
	ctx := context.Background()
	enc, open := newTable(t), newTable(t)
	ddb, _ := plain(ddbenctest.East)
	c, err := ddbenc.NewClient(ddb, []ddbenc.TableConfig{{TableName: enc, Actions: testActions, Provider: kmsProvider(t, ddbenctest.East, env.PrimaryARN)}},
		func(o *ddbenc.Options) { o.PassThroughTables = []string{open} })
	if err != nil {
		t.Fatal(err)
	}
	// Key schema read with DescribeTable.
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &enc, Item: item("d", 1, "s")}); err != nil {
		t.Fatal(err)
	}
	raw, _ := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &enc, Key: keyOf("d", 1)})
	if _, ok := raw.Item["sk"].(*types.AttributeValueMemberN); !ok {
		t.Errorf("sort key found by DescribeTable was not kept in plaintext")
	}
	// Pass-through: stored as given.
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &open, Item: item("p", 1, "visible")}); err != nil {
		t.Fatal(err)
	}
	raw, _ = ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &open, Key: keyOf("p", 1)})
	if raw.Item["secret"].(*types.AttributeValueMemberS).Value != "visible" {
		t.Error("pass-through table was encrypted")
	}
}

func TestEncryptionFailureWritesNothing(t *testing.T) {
	need(t)
	ctx := context.Background()
	table := newTable(t)
	key := env.KMS.CreateKey(ddbenctest.East, false)
	ddb, cnt := plain(ddbenctest.East)
	c, err := ddbenc.NewClient(ddb, []ddbenc.TableConfig{{TableName: table, PartitionKey: "pk", SortKey: "sk", Actions: testActions, Provider: kmsProvider(t, ddbenctest.East, key)}})
	if err != nil {
		t.Fatal(err)
	}
	env.KMS.SetKeyState(key, ddbenctest.KeyStateDisabled)
	_, err = c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item("f", 1, "s")})
	if !errors.Is(err, ddbenc.ErrKeyUnavailable) {
		t.Fatalf("PutItem with a disabled key: %v", err)
	}
	if n := cnt.n.Load(); n != 0 {
		t.Errorf("%d DynamoDB requests sent after the encryption failure", n)
	}
	raw, _ := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("f", 1)})
	if raw.Item != nil {
		t.Error("an item was written")
	}
}

// partialBatches forwards to DynamoDB Local but processes only the first
// request of each batch, reporting the rest as unprocessed, as DynamoDB does
// when a batch is throttled.
type partialBatches struct{ *dynamodb.Client }

func (p partialBatches) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	first := *in
	first.RequestItems = map[string][]types.WriteRequest{}
	unprocessed := map[string][]types.WriteRequest{}
	for table, wrs := range in.RequestItems {
		first.RequestItems[table] = wrs[:1]
		if len(wrs) > 1 {
			unprocessed[table] = wrs[1:]
		}
	}
	out, err := p.Client.BatchWriteItem(ctx, &first, optFns...)
	if err != nil {
		return nil, err
	}
	out.UnprocessedItems = unprocessed
	return out, nil
}

func (p partialBatches) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	first := *in
	first.RequestItems = map[string]types.KeysAndAttributes{}
	unprocessed := map[string]types.KeysAndAttributes{}
	for table, ka := range in.RequestItems {
		rest := ka
		ka.Keys, rest.Keys = ka.Keys[:1], ka.Keys[1:]
		first.RequestItems[table] = ka
		if len(rest.Keys) > 0 {
			unprocessed[table] = rest
		}
	}
	out, err := p.Client.BatchGetItem(ctx, &first, optFns...)
	if err != nil {
		return nil, err
	}
	out.UnprocessedKeys = unprocessed
	return out, nil
}

func TestUnprocessedBatchesComeBackAsTheCallersRequests(t *testing.T) {
	need(t)
	ctx := context.Background()
	table := newTable(t)
	ddb, _ := plain(ddbenctest.East)
	c, err := ddbenc.NewClient(partialBatches{ddb}, []ddbenc.TableConfig{{
		TableName: table, PartitionKey: "pk", SortKey: "sk", Actions: testActions, Provider: kmsProvider(t, ddbenctest.East, env.PrimaryARN),
	}})
	if err != nil {
		t.Fatal(err)
	}
	var writes []types.WriteRequest
	for i := range 3 {
		writes = append(writes, types.WriteRequest{PutRequest: &types.PutRequest{Item: item("un", i, fmt.Sprint("plain-", i))}})
	}
	// Retry the way callers do: send UnprocessedItems again until none remain.
	req := map[string][]types.WriteRequest{table: writes}
	for rounds := 0; len(req) > 0; rounds++ {
		if rounds > 5 {
			t.Fatal("unprocessed items never drained")
		}
		out, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: req})
		if err != nil {
			t.Fatal(err)
		}
		for _, wr := range out.UnprocessedItems[table] {
			s, ok := wr.PutRequest.Item["secret"].(*types.AttributeValueMemberS)
			if !ok || !strings.HasPrefix(s.Value, "plain-") || wr.PutRequest.Item[legacy.SignatureAttribute] != nil {
				t.Fatalf("unprocessed item is not the caller's plaintext: %v", avtest.NormalizeItem(wr.PutRequest.Item))
			}
		}
		req = out.UnprocessedItems
	}
	keys := []map[string]types.AttributeValue{keyOf("un", 0), keyOf("un", 1), keyOf("un", 2)}
	get := map[string]types.KeysAndAttributes{table: {Keys: keys, ProjectionExpression: aws.String("secret")}}
	var got []map[string]types.AttributeValue
	for rounds := 0; len(get) > 0; rounds++ {
		if rounds > 5 {
			t.Fatal("unprocessed keys never drained")
		}
		out, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: get})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out.Responses[table]...)
		if ka, ok := out.UnprocessedKeys[table]; ok && deref(ka.ProjectionExpression) != "secret" {
			t.Fatalf("unprocessed keys lost the caller's projection: %+v", ka)
		}
		get = out.UnprocessedKeys
	}
	if len(got) != 3 {
		t.Fatalf("got %d items", len(got))
	}
	for _, it := range got {
		if len(it) != 1 || !strings.HasPrefix(it["secret"].(*types.AttributeValueMemberS).Value, "plain-") {
			t.Errorf("item %v", avtest.NormalizeItem(it))
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestDescribeTablePassesThrough(t *testing.T) {
	need(t)
	table := newTable(t)
	c, _, cnt := wrapped(t, table)
	out, err := c.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: &table})
	if err != nil || deref(out.Table.TableName) != table || cnt.n.Load() != 1 {
		t.Fatalf("DescribeTable: %v, %d requests", err, cnt.n.Load())
	}
}

// TestConcurrentClient shares one Client (two tables: static provider and
// DirectKMS) between goroutines doing puts and gets; run with -race.
func TestConcurrentClient(t *testing.T) {
	need(t)
	ctx := context.Background()
	staticTable, kmsTable := newTable(t), newTable(t)
	mac, _ := signingHMAC()
	static, _ := provider.NewStatic(make([]byte, 32), mac, nil)
	ddb, _ := plain(ddbenctest.East)
	c, err := ddbenc.NewClient(ddb, []ddbenc.TableConfig{
		{TableName: staticTable, PartitionKey: "pk", SortKey: "sk", Actions: testActions, Provider: static},
		{TableName: kmsTable, PartitionKey: "pk", SortKey: "sk", Actions: testActions, Provider: kmsProvider(t, ddbenctest.East, env.PrimaryARN)},
	})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				table := staticTable
				if (g+i)%2 == 1 {
					table = kmsTable
				}
				id := fmt.Sprintf("g%d", g)
				want := fmt.Sprintf("secret-%d-%d", g, i)
				if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item(id, i, want)}); err != nil {
					errs <- err
					return
				}
				out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf(id, i)})
				if err != nil {
					errs <- err
					return
				}
				if got := out.Item["secret"].(*types.AttributeValueMemberS).Value; got != want {
					errs <- fmt.Errorf("read %q, wrote %q", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func signingHMAC() (*signing.HMAC, error) { return signing.NewHMAC("HmacSHA256", make([]byte, 32)) }

// TestLimits: an item that fits DynamoDB's 400 KB as plaintext but not once
// encrypted, and an empty set, are refused before any request.
func TestLimits(t *testing.T) {
	need(t)
	ctx := context.Background()
	table := newTable(t)
	c, ddb, cnt := wrapped(t, table)
	big := item("big", 1, "s")
	big["blob"] = &types.AttributeValueMemberB{Value: make([]byte, ddbenc.MaxItemSize-200)}
	// DynamoDB Local stores the plaintext...
	if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: big}); err != nil {
		t.Fatalf("plain put of the plaintext: %v", err)
	}
	before := cnt.n.Load()
	// ...but the encrypted item would be over the limit.
	big["pk"] = &types.AttributeValueMemberS{Value: "big2"}
	_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: big})
	if !errors.Is(err, ddbenc.ErrInvalidItem) || !strings.Contains(err.Error(), "400") {
		t.Errorf("encrypted item over the limit: %v", err)
	}
	empty := item("empty", 1, "s")
	empty["tags"] = &types.AttributeValueMemberSS{Value: []string{}}
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: empty}); !errors.Is(err, ddbenc.ErrInvalidItem) {
		t.Errorf("empty set: %v", err)
	}
	if n := cnt.n.Load() - before; n != 0 {
		t.Errorf("%d requests sent for refused items", n)
	}
	// Unicode attribute names round-trip through DynamoDB.
	uni := item("uni", 1, "s")
	uni["名前😀"] = &types.AttributeValueMemberS{Value: "ok"}
	uni["\uFFFD"] = &types.AttributeValueMemberS{Value: "ok"}
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: uni}); err != nil {
		t.Fatal(err)
	}
	out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("uni", 1)})
	if err != nil || out.Item["名前😀"] == nil {
		t.Fatalf("unicode names: %v", err)
	}
}

// TestDescribeTableFailureIsNotCached: a table configured without key names
// that does not exist yet fails with a clear error; once it exists, the same
// Client works (the failure was not cached).
func TestDescribeTableFailureIsNotCached(t *testing.T) {
	need(t)
	ctx := context.Background()
	table := fmt.Sprintf("late%d", tableSeq.Add(1))
	ddb, _ := plain(ddbenctest.East)
	c, err := ddbenc.NewClient(ddb, []ddbenc.TableConfig{{TableName: table, Actions: testActions, Provider: kmsProvider(t, ddbenctest.East, env.PrimaryARN)}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item("x", 1, "s")})
	var de *ddbenc.Error
	if !errors.As(err, &de) || de.Table != table || !strings.Contains(err.Error(), "key schema") {
		t.Fatalf("missing table: %v", err)
	}
	if err := ddbenctest.CreateTable(ctx, env.DynamoDB(ddbenctest.East), table,
		ddbenctest.Key{Name: "pk", Type: types.ScalarAttributeTypeS}, ddbenctest.Key{Name: "sk", Type: types.ScalarAttributeTypeN}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item("x", 1, "s")}); err != nil {
		t.Fatalf("after the table exists: %v", err)
	}
}
