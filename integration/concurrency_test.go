package integration_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/ddbenctest"
	"github.com/ddbec/ddbec-go/internal/avtest"
)

// Options.Concurrency against DynamoDB Local and the fake KMS: pages read
// and written with concurrent KMS calls are those of the serial path.

// concClient returns a Client for table with the DirectKMS provider and the
// given Concurrency.
func concClient(tb testing.TB, p ddbenc.MaterialsProvider, table string, workers int) *ddbenc.Client {
	tb.Helper()
	c, err := ddbenc.NewClient(env.DynamoDB(ddbenctest.East), []ddbenc.TableConfig{{TableName: table, PartitionKey: "pk", SortKey: "sk", Actions: testActions, Provider: p}},
		func(o *ddbenc.Options) { o.Concurrency = workers })
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// concItem is item i of partition p: about 200 bytes of plaintext, 500
// stored.
func concItem(p string, i int) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: p}, "sk": &types.AttributeValueMemberN{Value: fmt.Sprint(i)},
		"status": &types.AttributeValueMemberS{Value: "active"}, "pageviews": &types.AttributeValueMemberN{Value: fmt.Sprint(i * 7)},
		"email": &types.AttributeValueMemberS{Value: fmt.Sprintf("user%d@example.com", i)},
		"bio":   &types.AttributeValueMemberS{Value: strings.Repeat("x", 150)},
	}
}

// putItems writes items 0..n-1 of partition p through c, 25 at a time.
func putItems(tb testing.TB, c *ddbenc.Client, table, p string, n int) []map[string]types.AttributeValue {
	tb.Helper()
	var items []map[string]types.AttributeValue
	for start := 0; start < n; start += 25 {
		var wrs []types.WriteRequest
		for i := start; i < min(start+25, n); i++ {
			it := concItem(p, i)
			items = append(items, it)
			wrs = append(wrs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
		}
		out, err := c.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: wrs}})
		if err != nil {
			tb.Fatal(err)
		}
		if len(out.UnprocessedItems) > 0 {
			tb.Fatal("unprocessed items")
		}
	}
	return items
}

// TestConcurrentPaginators: the Query and Scan paginators over a Client
// with Concurrency 16 see the pages, items, formats and LastEvaluatedKeys
// of Concurrency 1, and the items written.
func TestConcurrentPaginators(t *testing.T) {
	need(t)
	ctx := context.Background()
	table := newTable(t)
	p := kmsProvider(t, ddbenctest.East, env.PrimaryARN)
	want := putItems(t, concClient(t, p, table, 16), table, "pg", 95)
	type page struct {
		Items   []map[string]any
		Formats []ddbenc.ItemFormat
		LastKey map[string]any
	}
	norm := func(items []map[string]types.AttributeValue) []map[string]any {
		out := make([]map[string]any, len(items))
		for i, it := range items {
			out[i] = avtest.NormalizeItem(it)
		}
		return out
	}
	pages := func(c *ddbenc.Client, scan bool) []page {
		var ps []page
		if scan {
			pg := dynamodb.NewScanPaginator(c, &dynamodb.ScanInput{TableName: &table, Limit: aws.Int32(10)})
			for pg.HasMorePages() {
				out, err := pg.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				ps = append(ps, page{norm(out.Items), ddbenc.ItemFormats(out.ResultMetadata), avtest.NormalizeItem(out.LastEvaluatedKey)})
			}
			return ps
		}
		pg := dynamodb.NewQueryPaginator(c, &dynamodb.QueryInput{TableName: &table, Limit: aws.Int32(10),
			KeyConditionExpression: aws.String("pk = :p"), ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "pg"}}})
		for pg.HasMorePages() {
			out, err := pg.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, page{norm(out.Items), ddbenc.ItemFormats(out.ResultMetadata), avtest.NormalizeItem(out.LastEvaluatedKey)})
		}
		return ps
	}
	for _, scan := range []bool{false, true} {
		name := map[bool]string{false: "Query", true: "Scan"}[scan]
		t.Run(name, func(t *testing.T) {
			serial, conc := pages(concClient(t, p, table, 1), scan), pages(concClient(t, p, table, 16), scan)
			if len(serial) < 10 {
				t.Fatalf("%d pages, want at least 10", len(serial))
			}
			if diff := cmp.Diff(serial, conc); diff != "" {
				t.Errorf("pages (-Concurrency 1 +Concurrency 16):\n%s", diff)
			}
			var got []map[string]any
			for _, pg := range conc {
				got = append(got, pg.Items...)
				for _, f := range pg.Formats {
					if f != ddbenc.LegacyItem {
						t.Fatalf("format %v, want %v", f, ddbenc.LegacyItem)
					}
				}
			}
			if diff := cmp.Diff(norm(want), got); diff != "" {
				t.Errorf("items (-written +read):\n%s", diff)
			}
		})
	}
}

// TestConcurrentQueryCancelKMS: a Query whose KMS calls hang returns
// context.Canceled once cancelled, having sent only the calls of the
// workers in flight: the fake KMS holds every call until its request's
// context ends.
func TestConcurrentQueryCancelKMS(t *testing.T) {
	need(t)
	if env.KMS == nil {
		t.Skip("needs the in-process fake KMS")
	}
	table := newTable(t)
	p := kmsProvider(t, ddbenctest.East, env.PrimaryARN)
	putItems(t, concClient(t, p, table, 16), table, "cx", 100)
	const workers = 8
	c := concClient(t, p, table, workers)
	env.KMS.SetLatency(time.Hour)
	defer env.KMS.SetLatency(0)
	before := env.KMS.Count("Decrypt")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		out, err := c.Query(ctx, &dynamodb.QueryInput{TableName: &table, KeyConditionExpression: aws.String("pk = :p"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "cx"}}})
		if out != nil {
			err = errors.Join(err, errors.New("items returned with the error"))
		}
		done <- err
	}()
	for env.KMS.Count("Decrypt")-before < workers {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "items returned") {
		t.Errorf("error %v, want context.Canceled and no items", err)
	}
	if n := env.KMS.Count("Decrypt") - before; n != workers {
		t.Errorf("%d Decrypt calls for a page of 100 cancelled with %d in flight, want %d", n, workers, workers)
	}
}
