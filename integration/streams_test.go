package integration_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	stypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/ddbenc/lambdaevents"
	"github.com/ddbec/ddbec-go/ddbenctest"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/internal/ddbjson"
)

// readStream reads a table's stream from DynamoDB Local with the real
// DynamoDB Streams client, every shard from TRIM_HORIZON, until it has want
// records (or a deadline passes), and returns the stream ARN and the records
// in shard order.
func readStream(t *testing.T, table string, want int) (string, []stypes.Record) {
	t.Helper()
	ctx := context.Background()
	d, err := env.DynamoDB(ddbenctest.East).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(d.Table.LatestStreamArn)
	if arn == "" {
		t.Fatalf("table %s has no stream", table)
	}
	sc := env.DynamoDBLocal.StreamsClient(ddbenctest.East)
	var recs []stypes.Record
	iterators := map[string]*string{}
	var order []string
	deadline := time.Now().Add(30 * time.Second)
	for len(recs) < want {
		if time.Now().After(deadline) {
			t.Fatalf("stream of %s: %d records after 30s, want %d", table, len(recs), want)
		}
		var start *string
		for {
			ds, err := sc.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: &arn, ExclusiveStartShardId: start})
			if err != nil {
				t.Fatal(err)
			}
			for _, sh := range ds.StreamDescription.Shards {
				if _, ok := iterators[*sh.ShardId]; ok {
					continue
				}
				it, err := sc.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: &arn, ShardId: sh.ShardId,
					ShardIteratorType: stypes.ShardIteratorTypeTrimHorizon})
				if err != nil {
					t.Fatal(err)
				}
				iterators[*sh.ShardId] = it.ShardIterator
				order = append(order, *sh.ShardId)
			}
			if start = ds.StreamDescription.LastEvaluatedShardId; start == nil {
				break
			}
		}
		for _, id := range order {
			if iterators[id] == nil {
				continue
			}
			out, err := sc.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iterators[id]})
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, out.Records...)
			iterators[id] = out.NextShardIterator
		}
		if len(recs) < want {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if len(recs) != want {
		t.Fatalf("stream of %s: %d records, want %d", table, len(recs), want)
	}
	return arn, recs
}

// lambdaEvent converts stream records read with the DynamoDB Streams API
// into the event Lambda delivers for them: its JSON, decoded by
// aws-lambda-go.
func lambdaEvent(t *testing.T, streamARN string, recs []stypes.Record) events.DynamoDBEvent {
	t.Helper()
	var out []map[string]any
	for _, r := range recs {
		ch := map[string]any{"SequenceNumber": aws.ToString(r.Dynamodb.SequenceNumber), "SizeBytes": aws.ToInt64(r.Dynamodb.SizeBytes),
			"StreamViewType": string(r.Dynamodb.StreamViewType)}
		if r.Dynamodb.ApproximateCreationDateTime != nil {
			ch["ApproximateCreationDateTime"] = r.Dynamodb.ApproximateCreationDateTime.Unix()
		}
		for name, img := range map[string]map[string]stypes.AttributeValue{"Keys": r.Dynamodb.Keys, "NewImage": r.Dynamodb.NewImage, "OldImage": r.Dynamodb.OldImage} {
			if img == nil {
				continue
			}
			conv, err := ddbenc.ConvertStreamItem(img)
			if err != nil {
				t.Fatal(err)
			}
			b, err := ddbjson.MarshalItem(conv)
			if err != nil {
				t.Fatal(err)
			}
			ch[name] = json.RawMessage(b)
		}
		out = append(out, map[string]any{"eventID": aws.ToString(r.EventID), "eventName": string(r.EventName),
			"eventVersion": aws.ToString(r.EventVersion), "eventSource": aws.ToString(r.EventSource), "awsRegion": aws.ToString(r.AwsRegion),
			"dynamodb": ch, "eventSourceARN": streamARN})
	}
	b, err := json.Marshal(map[string]any{"Records": out})
	if err != nil {
		t.Fatal(err)
	}
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestStreamsDecrypt writes items through the Client to a legacy-format and
// a DB-ESDK table with NEW_AND_OLD_IMAGES streams, reads each table's stream
// from DynamoDB Local, and decrypts every record's images, read with the
// Streams API and as the Lambda event of the same records, to what was
// written. A change made behind the Client's back to a signed attribute
// shows in the stream as an image that is refused.
func TestStreamsDecrypt(t *testing.T) {
	need(t)
	ctx := context.Background()
	for _, format := range []string{"legacy", "dbesdk"} {
		t.Run(format, func(t *testing.T) {
			table := newTableName(t)
			if err := ddbenctest.CreateTable(ctx, env.DynamoDB(ddbenctest.East), table,
				ddbenctest.Key{Name: "pk", Type: types.ScalarAttributeTypeS}, ddbenctest.Key{Name: "sk", Type: types.ScalarAttributeTypeN}, true); err != nil {
				t.Fatal(err)
			}
			var c *ddbenc.Client
			var ddb *dynamodb.Client
			want := ddbenc.DBESDKItem
			if format == "legacy" {
				c, ddb, _ = wrapped(t, table)
				want = ddbenc.LegacyItem
			} else {
				c, ddb = dbesdkClient(t, table)
			}
			a1, b1, a2 := item("alice", 1, "alice s3cret 1"), item("bob", 2, "bob s3cret"), item("alice", 1, "alice s3cret 2")
			a1["nested"] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
				"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberNULL{Value: true}, &types.AttributeValueMemberBOOL{Value: true},
					&types.AttributeValueMemberB{Value: []byte{0, 255}}, &types.AttributeValueMemberNS{Value: []string{"1.5", "-2"}}}},
				"bs": &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}},
			}}
			for _, it := range []map[string]types.AttributeValue{a1, b1, a2} {
				if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: it}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: keyOf("bob", 2), UpdateExpression: aws.String("SET pageviews = :v"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: "5"}}}); err != nil {
				t.Fatal(err)
			}
			b2 := avtest.Clone(b1)
			b2["pageviews"] = &types.AttributeValueMemberN{Value: "5"}
			if _, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &table, Key: keyOf("alice", 1)}); err != nil {
				t.Fatal(err)
			}
			// Behind the Client's back: a signed attribute changed.
			if _, err := ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: keyOf("bob", 2), UpdateExpression: aws.String("SET #s = :v"),
				ExpressionAttributeNames: map[string]string{"#s": "status"}, ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: "evil"}}}); err != nil {
				t.Fatal(err)
			}

			arn, recs := readStream(t, table, 6)
			enc, err := c.Encryptor(ctx, table)
			if err != nil {
				t.Fatal(err)
			}
			type change struct {
				event              stypes.OperationType
				newImage, oldImage map[string]types.AttributeValue
			}
			// The stream is ordered per item; records of different items
			// may interleave across shards, so match each by its key.
			wantByItem := map[string][]change{
				"alice": {{stypes.OperationTypeInsert, a1, nil}, {stypes.OperationTypeModify, a2, a1}, {stypes.OperationTypeRemove, nil, a2}},
				"bob":   {{stypes.OperationTypeInsert, b1, nil}, {stypes.OperationTypeModify, b2, b1}},
			}
			check := func(via string, i int, event stypes.OperationType, got ddbenc.StreamImages) {
				t.Helper()
				who := got.Keys["pk"].(*types.AttributeValueMemberS).Value
				if len(wantByItem[who]) == 0 {
					t.Fatalf("%s: record %d of %s not expected", via, i, who)
				}
				w := wantByItem[who][0]
				wantByItem[who] = wantByItem[who][1:]
				if event != w.event {
					t.Errorf("%s: record %d of %s is %s, want %s", via, i, who, event, w.event)
				}
				if (got.NewImage == nil) != (w.newImage == nil) || (got.OldImage == nil) != (w.oldImage == nil) {
					t.Errorf("%s: record %d of %s: images present %v/%v", via, i, who, got.NewImage != nil, got.OldImage != nil)
				}
				if diff := avtest.DiffItems(w.newImage, got.NewImage); diff != "" {
					t.Errorf("%s: record %d of %s NewImage (-want +got):\n%s", via, i, who, diff)
				}
				if diff := avtest.DiffItems(w.oldImage, got.OldImage); diff != "" {
					t.Errorf("%s: record %d of %s OldImage (-want +got):\n%s", via, i, who, diff)
				}
				if w.newImage != nil && got.NewFormat != want || w.oldImage != nil && got.OldFormat != want {
					t.Errorf("%s: record %d of %s read as %v/%v, want %v", via, i, who, got.NewFormat, got.OldFormat, want)
				}
			}

			// With the Streams API's types. The last record of bob is the
			// tampered change.
			tamperedAt, bobs := -1, 0
			for i, r := range recs {
				if r.Dynamodb.Keys["pk"].(*stypes.AttributeValueMemberS).Value == "bob" {
					if bobs++; bobs == 3 {
						tamperedAt = i
						continue
					}
				}
				got, err := ddbenc.DecryptStreamRecord(ctx, enc, r)
				if err != nil {
					t.Fatalf("record %d (%s): %v", i, r.EventName, err)
				}
				check("streams", i, r.EventName, got)
			}
			if tamperedAt < 0 {
				t.Fatal("no record of the tampered change")
			}
			for who, left := range wantByItem {
				if len(left) != 0 {
					t.Errorf("streams: %d records of %s missing", len(left), who)
				}
			}
			got, err := ddbenc.DecryptStreamRecord(ctx, enc, recs[tamperedAt])
			var de *ddbenc.Error
			if !errors.Is(err, ddbenc.ErrSignature) || !errors.As(err, &de) || got.NewImage != nil || got.OldImage != nil {
				t.Fatalf("record of the tampered item: %v, %v; want ErrSignature", got, err)
			}
			if de.Table != table || de.Op != "decrypt stream NewImage" || de.Key != `{"pk":{"S":"bob"},"sk":{"N":"2"}}` || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("record of the tampered item: %v", err)
			}

			// The same records as the Lambda event of the stream.
			wantByItem = map[string][]change{
				"alice": {{stypes.OperationTypeInsert, a1, nil}, {stypes.OperationTypeModify, a2, a1}, {stypes.OperationTypeRemove, nil, a2}},
				"bob":   {{stypes.OperationTypeInsert, b1, nil}, {stypes.OperationTypeModify, b2, b1}},
			}
			untampered := append(append([]stypes.Record(nil), recs[:tamperedAt]...), recs[tamperedAt+1:]...)
			ev := lambdaEvent(t, arn, untampered)
			imgs, err := lambdaevents.DecryptEvent(ctx, c, ev)
			if err != nil {
				t.Fatal(err)
			}
			for i, got := range imgs {
				check("lambda", i, stypes.OperationType(ev.Records[i].EventName), got)
			}
			if _, err := lambdaevents.DecryptEvent(ctx, c, lambdaEvent(t, arn, recs)); !errors.Is(err, ddbenc.ErrSignature) ||
				!strings.Contains(err.Error(), fmt.Sprintf("record %d ", tamperedAt)) {
				t.Errorf("Lambda event with the tampered record: %v, want ErrSignature naming record %d", err, tamperedAt)
			}
			for who, left := range wantByItem {
				if len(left) != 0 {
					t.Errorf("lambda: %d records of %s missing", len(left), who)
				}
			}
		})
	}
}
