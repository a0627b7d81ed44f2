package integration_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/ddbenctest"
	"github.com/ddbec/ddbec-go/provider"
	"github.com/ddbec/ddbec-go/signing"
)

// putGetAPI is what the end-to-end benchmark calls: a plain or an
// encrypting client.
type putGetAPI interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// BenchmarkEndToEnd puts and gets the same ~1 KiB item through a plain
// client, the wrapper with the static provider and the wrapper with
// DirectKMS, against DynamoDB Local and the fake KMS. It reports each
// wrapper's time relative to the plain client (x-plain) and the KMS calls per
// item (put + get).
func BenchmarkEndToEnd(b *testing.B) {
	if startErr != nil {
		ddbenctest.SkipUnavailable(b, "DynamoDB Local / fake KMS", startErr)
	}
	ctx := context.Background()
	table := fmt.Sprintf("bench%d", tableSeq.Add(1))
	if err := ddbenctest.CreateTable(ctx, env.DynamoDB(ddbenctest.East), table,
		ddbenctest.Key{Name: "pk", Type: types.ScalarAttributeTypeS}, ddbenctest.Key{Name: "sk", Type: types.ScalarAttributeTypeN}, false); err != nil {
		b.Fatal(err)
	}
	ddb := env.DynamoDB(ddbenctest.East)
	mac, _ := signing.NewHMAC("HmacSHA256", bytes.Repeat([]byte{2}, 32))
	static, _ := provider.NewStatic(bytes.Repeat([]byte{1}, 32), mac, nil)
	kmsP, err := provider.NewDirectKMS(env.KMSClient(ddbenctest.East), env.PrimaryARN)
	if err != nil {
		b.Fatal(err)
	}
	acts := actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{"s0": actions.SignOnly, "s1": actions.SignOnly}}
	wrap := func(p ddbenc.MaterialsProvider) putGetAPI {
		c, err := ddbenc.NewClient(ddb, []ddbenc.TableConfig{{TableName: table, PartitionKey: "pk", SortKey: "sk", Actions: acts, Provider: p}})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	item := map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "bench"},
		"sk": &types.AttributeValueMemberN{Value: "1"},
	}
	for i := range 4 {
		item[fmt.Sprint("e", i)] = &types.AttributeValueMemberS{Value: string(bytes.Repeat([]byte{'x'}, 200))}
	}
	for i := range 2 {
		item[fmt.Sprint("s", i)] = &types.AttributeValueMemberS{Value: string(bytes.Repeat([]byte{'y'}, 100))}
	}
	key := map[string]types.AttributeValue{"pk": item["pk"], "sk": item["sk"]}

	// Warm DynamoDB Local's JIT first, or the first variant pays for it.
	for range 1500 {
		if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item}); err != nil {
			b.Fatal(err)
		}
		if _, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key}); err != nil {
			b.Fatal(err)
		}
	}
	var plainNs float64
	for _, c := range []struct {
		name string
		api  putGetAPI
	}{{"plain", ddb}, {"static", wrap(static)}, {"kms", wrap(kmsP)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			before := env.KMS.Count("")
			for b.Loop() {
				if _, err := c.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item}); err != nil {
					b.Fatal(err)
				}
				out, err := c.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key})
				if err != nil || out.Item == nil {
					b.Fatal(err)
				}
			}
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			if c.name == "plain" {
				plainNs = ns
			} else if plainNs > 0 {
				b.ReportMetric(ns/plainNs, "x-plain")
			}
			b.ReportMetric(float64(env.KMS.Count("")-before)/float64(b.N), "kms-calls/item")
		})
	}
}
