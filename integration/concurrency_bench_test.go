package integration_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/ddbenctest"
	"github.com/ddbec/ddbec-go/provider"
)

// Benchmarks of Options.Concurrency against DynamoDB Local and the fake KMS
// with 5 ms of latency on every KMS call (fakekms SetLatency), as a KMS
// round trip from a nearby Region would take. Each has the sub-benchmarks
// plain (the same request through a plain DynamoDB client), workers=1
// (serial) and workers=16 (the default); workers=16 reports its speedups
// over workers=1 of the same run (see runWorkers). docs/performance.md has
// the numbers.

const benchKMSLatency = 5 * time.Millisecond

// benchKMS skips without the local world or the in-process fake KMS (whose
// latency hook the benchmarks need), and returns a fresh table.
func benchKMS(b *testing.B) string {
	b.Helper()
	if startErr != nil {
		b.Skipf("DynamoDB Local / fake KMS could not start: %v", startErr)
	}
	if env.KMS == nil {
		b.Skip("needs the in-process fake KMS (its latency hook)")
	}
	table := fmt.Sprintf("bench%d", tableSeq.Add(1))
	if err := ddbenctest.CreateTable(context.Background(), env.DynamoDB(ddbenctest.East), table,
		ddbenctest.Key{Name: "pk", Type: types.ScalarAttributeTypeS}, ddbenctest.Key{Name: "sk", Type: types.ScalarAttributeTypeN}, false); err != nil {
		b.Fatal(err)
	}
	return table
}

// benchKMSClient is a KMS client for the fake KMS whose HTTP transport
// keeps as many idle connections as there are workers (the SDK's default
// keeps 10 per host, so 16 concurrent calls would open new ones).
func benchKMSClient() *kms.Client {
	return ddbenctest.NewKMSClient(env.KMSEndpoint, ddbenctest.East, func(o *kms.Options) {
		o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) { t.MaxIdleConnsPerHost = 16 })
	})
}

// runWorkers runs plain (the same request through a plain DynamoDB client,
// after warmup rounds of it to warm DynamoDB Local's JIT), then fn under
// workers=1 and workers=16, with the KMS latency set. It reports KMS calls
// per op and, for workers=16, its speedup over workers=1 (x-serial) and
// the speedup of the time the Client adds to the plain call (x-serial-added:
// the KMS round trips and the crypto, without DynamoDB Local's own time,
// which concurrency cannot shorten). plain returns one plain call; fn warms
// up, then calls start and runs its loop.
func runWorkers(b *testing.B, warmup int, plain func(b *testing.B) func(), fn func(b *testing.B, workers int, start func())) {
	env.KMS.SetLatency(benchKMSLatency)
	defer env.KMS.SetLatency(0)
	var plainNs, serialNs float64
	run := func(name string, body func(b *testing.B, start func())) {
		b.Run(name, func(b *testing.B) {
			var before int
			body(b, func() {
				before = env.KMS.Count("")
				b.ResetTimer()
			})
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			switch name {
			case "plain":
				plainNs = ns
			case "workers=1":
				serialNs = ns
			default:
				if serialNs > 0 {
					b.ReportMetric(serialNs/ns, "x-serial")
					if plainNs > 0 && ns > plainNs {
						b.ReportMetric((serialNs-plainNs)/(ns-plainNs), "x-serial-added")
					}
				}
			}
			b.ReportMetric(float64(env.KMS.Count("")-before)/float64(b.N), "kms-calls/op")
		})
	}
	run("plain", func(b *testing.B, start func()) {
		op := plain(b)
		for range warmup {
			op()
		}
		loop(b, start, op)
	})
	for _, w := range []int{1, 16} {
		run(fmt.Sprintf("workers=%d", w), func(b *testing.B, start func()) { fn(b, w, start) })
	}
}

// loop runs op once to warm up, then calls start and runs op b.N times.
func loop(b *testing.B, start func(), op func()) {
	op()
	start()
	for b.Loop() {
		op()
	}
}

// queryAPI is the Query of a plain or an encrypting client.
type queryAPI interface {
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// queryOp returns one Query of the 100 items of partition "q" through c.
func queryOp(b *testing.B, c queryAPI, table string) func() {
	in := &dynamodb.QueryInput{TableName: &table, KeyConditionExpression: aws.String("pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "q"}}}
	return func() {
		out, err := c.Query(context.Background(), in)
		if err != nil {
			b.Fatal(err)
		}
		if len(out.Items) != 100 {
			b.Fatalf("%d items, want 100", len(out.Items))
		}
	}
}

// benchQueryPage is BenchmarkQueryPageKMS and BenchmarkQueryPageCached with
// the provider p.
func benchQueryPage(b *testing.B, table string, p ddbenc.MaterialsProvider) {
	putItems(b, concClient(b, p, table, 16), table, "q", 100)
	runWorkers(b, 200, func(b *testing.B) func() {
		return queryOp(b, env.DynamoDB(ddbenctest.East), table)
	}, func(b *testing.B, workers int, start func()) {
		loop(b, start, queryOp(b, concClient(b, p, table, workers), table))
	})
}

// BenchmarkQueryPageKMS reads a Query page of 100 items with the legacy
// DirectKMS provider: one KMS Decrypt per item.
func BenchmarkQueryPageKMS(b *testing.B) {
	table := benchKMS(b)
	p, err := provider.NewDirectKMS(benchKMSClient(), env.PrimaryARN)
	if err != nil {
		b.Fatal(err)
	}
	benchQueryPage(b, table, p)
}

// BenchmarkBatchWriteKMS writes a BatchWriteItem of 25 items with DirectKMS:
// one KMS GenerateDataKey per item.
func BenchmarkBatchWriteKMS(b *testing.B) {
	table := benchKMS(b)
	p, err := provider.NewDirectKMS(benchKMSClient(), env.PrimaryARN)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	wrs := make([]types.WriteRequest, 25)
	for i := range wrs {
		wrs[i].PutRequest = &types.PutRequest{Item: concItem("w", i)}
	}
	in := &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: wrs}}
	// The plain write sends the same stored items, encrypted once.
	enc, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: table, PartitionKey: "pk", SortKey: "sk", Actions: testActions, Provider: p})
	if err != nil {
		b.Fatal(err)
	}
	stored := make([]types.WriteRequest, len(wrs))
	for i, wr := range wrs {
		item, err := enc.EncryptItem(ctx, wr.PutRequest.Item)
		if err != nil {
			b.Fatal(err)
		}
		stored[i].PutRequest = &types.PutRequest{Item: item}
	}
	plainIn := &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: stored}}
	write := func(b *testing.B, c batchWriteAPI, in *dynamodb.BatchWriteItemInput) func() {
		return func() {
			out, err := c.BatchWriteItem(ctx, in)
			if err != nil {
				b.Fatal(err)
			}
			if len(out.UnprocessedItems) > 0 {
				b.Fatal("unprocessed items")
			}
		}
	}
	runWorkers(b, 200, func(b *testing.B) func() {
		return write(b, env.DynamoDB(ddbenctest.East), plainIn)
	}, func(b *testing.B, workers int, start func()) {
		loop(b, start, write(b, concClient(b, p, table, workers), in))
	})
}

// batchWriteAPI is the BatchWriteItem of a plain or an encrypting client.
type batchWriteAPI interface {
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// BenchmarkQueryPageCached reads the same page with the most-recent
// provider over a MetaStore (itself protected by DirectKMS): its cache
// serves every item without KMS, so concurrency has no round trips to
// overlap and must cost nothing.
func BenchmarkQueryPageCached(b *testing.B) {
	table := benchKMS(b)
	ctx := context.Background()
	meta := fmt.Sprintf("benchmeta%d", tableSeq.Add(1))
	if err := provider.CreateMetaStoreTable(ctx, env.DynamoDB(ddbenctest.East), meta); err != nil {
		b.Fatal(err)
	}
	direct, err := provider.NewDirectKMS(benchKMSClient(), env.PrimaryARN)
	if err != nil {
		b.Fatal(err)
	}
	store, err := provider.NewMetaStore(env.DynamoDB(ddbenctest.East), meta, direct)
	if err != nil {
		b.Fatal(err)
	}
	p, err := provider.NewMostRecent(store, "bench", func(o *provider.MostRecentOptions) { o.TTL = time.Hour })
	if err != nil {
		b.Fatal(err)
	}
	benchQueryPage(b, table, p)
}
