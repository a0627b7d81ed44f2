package lambdaevents_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/ddbenc/lambdaevents"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/internal/ddbjson"
	"github.com/ddbec/ddbec-go/keyring"
	"github.com/ddbec/ddbec-go/provider"
	"github.com/ddbec/ddbec-go/signing"
)

func s(v string) *types.AttributeValueMemberS { return &types.AttributeValueMemberS{Value: v} }
func n(v string) *types.AttributeValueMemberN { return &types.AttributeValueMemberN{Value: v} }

// everyType has a value of every type, nested, with the edge cases of each.
func everyType() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk":    s("p1"),
		"sk":    n("007.50"),
		"s":     s("héllo"),
		"empty": s(""),
		"b":     &types.AttributeValueMemberB{Value: []byte{0, 1, 2, 255}},
		"b0":    &types.AttributeValueMemberB{Value: []byte{}},
		"ss":    &types.AttributeValueMemberSS{Value: []string{"b", "a"}},
		"ns":    &types.AttributeValueMemberNS{Value: []string{"1", "-2.5e3"}},
		"bs":    &types.AttributeValueMemberBS{Value: [][]byte{{1}, {0, 2}}},
		"t":     &types.AttributeValueMemberBOOL{Value: true},
		"f":     &types.AttributeValueMemberBOOL{Value: false},
		"null":  &types.AttributeValueMemberNULL{Value: true},
		"l0":    &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
		"m0":    &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
		"nested": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"list": &types.AttributeValueMemberL{Value: []types.AttributeValue{
				n("1"), s("x"), &types.AttributeValueMemberNULL{Value: true}, &types.AttributeValueMemberBOOL{Value: false},
				&types.AttributeValueMemberB{Value: []byte("bin")}, &types.AttributeValueMemberNS{Value: []string{"3"}},
				&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"deep": &types.AttributeValueMemberL{Value: []types.AttributeValue{
					&types.AttributeValueMemberSS{Value: []string{"z"}}, &types.AttributeValueMemberBS{Value: [][]byte{{9}}},
				}}}},
			}},
			"map": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": s("v")}},
		}},
	}
}

// lambdaItem is item as Lambda delivers it: DynamoDB JSON, decoded by
// aws-lambda-go.
func lambdaItem(t *testing.T, item map[string]types.AttributeValue) map[string]events.DynamoDBAttributeValue {
	t.Helper()
	b, err := ddbjson.MarshalItem(item)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]events.DynamoDBAttributeValue
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestConvertItem: every type converts value for value. Two independent
// paths agree: DynamoDB JSON decoded by aws-lambda-go and converted gives the
// item back; aws-lambda-go's own JSON of the values, decoded as DynamoDB
// JSON, gives the same item.
func TestConvertItem(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 3))
	items := []map[string]types.AttributeValue{everyType()}
	for range 200 {
		items = append(items, avtest.RandomItem(r, "pk", "sk", 8))
	}
	for i, want := range items {
		in := lambdaItem(t, want)
		got, err := lambdaevents.ConvertItem(in)
		if err != nil {
			t.Fatalf("item %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("item %d: converted item differs:\n got %v\nwant %v", i, avtest.NormalizeItem(got), avtest.NormalizeItem(want))
		}
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ddbjson.UnmarshalItem(b)
		if err != nil {
			t.Fatalf("item %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, back) {
			t.Fatalf("item %d: differs from aws-lambda-go's JSON:\n got %v\n json %v", i, avtest.NormalizeItem(got), avtest.NormalizeItem(back))
		}
	}

	// Values built with the constructors, one at a time.
	for _, tc := range []struct {
		in   events.DynamoDBAttributeValue
		want types.AttributeValue
	}{
		{events.NewStringAttribute("x"), s("x")},
		{events.NewNumberAttribute("1.50"), n("1.50")},
		{events.NewBinaryAttribute([]byte{7}), &types.AttributeValueMemberB{Value: []byte{7}}},
		{events.NewBinaryAttribute(nil), &types.AttributeValueMemberB{Value: []byte{}}},
		{events.NewBooleanAttribute(false), &types.AttributeValueMemberBOOL{Value: false}},
		{events.NewNullAttribute(), &types.AttributeValueMemberNULL{Value: true}},
		{events.NewStringSetAttribute([]string{"a", "b"}), &types.AttributeValueMemberSS{Value: []string{"a", "b"}}},
		{events.NewNumberSetAttribute([]string{"1"}), &types.AttributeValueMemberNS{Value: []string{"1"}}},
		{events.NewBinarySetAttribute([][]byte{{1}, {2}}), &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2}}}},
		{events.NewListAttribute([]events.DynamoDBAttributeValue{events.NewNullAttribute(), events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"k": events.NewNumberAttribute("2")})}),
			&types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberNULL{Value: true}, &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": n("2")}}}}},
	} {
		got, err := lambdaevents.ConvertValue(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ConvertValue(%v) = %v, %v; want %v", tc.in.DataType(), avtest.Normalize(got), err, avtest.Normalize(tc.want))
		}
	}
	if m, err := lambdaevents.ConvertItem(nil); m != nil || err != nil {
		t.Errorf("ConvertItem(nil) = %v, %v", m, err)
	}

	// Bytes are copied.
	raw := []byte{1}
	got, err := lambdaevents.ConvertValue(events.NewBinaryAttribute(raw))
	if err != nil {
		t.Fatal(err)
	}
	raw[0] = 9
	if got.(*types.AttributeValueMemberB).Value[0] != 1 {
		t.Error("converted binary shares memory with the event")
	}

	// The zero value holds nothing: refused, naming the attribute, at the
	// top or nested.
	for name, v := range map[string]events.DynamoDBAttributeValue{
		"zero":      {},
		"zero in L": events.NewListAttribute([]events.DynamoDBAttributeValue{events.NewStringAttribute("x"), {}}),
		"zero in M": events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"k": {}}),
	} {
		got, err := lambdaevents.ConvertItem(map[string]events.DynamoDBAttributeValue{"ok": events.NewStringAttribute("x"), "attr": v})
		var de *ddbenc.Error
		if got != nil || !errors.Is(err, ddbenc.ErrMalformed) || !errors.As(err, &de) || de.Attribute != "attr" {
			t.Errorf("%s: %v, %v; want ErrMalformed naming attr", name, got, err)
		}
	}
	deep := events.NewStringAttribute("x")
	for range 100 {
		deep = events.NewListAttribute([]events.DynamoDBAttributeValue{deep})
	}
	if _, err := lambdaevents.ConvertValue(deep); !errors.Is(err, ddbenc.ErrMalformed) {
		t.Errorf("value nested 100 deep: %v, want ErrMalformed", err)
	}
}

const streamARN = "arn:aws:dynamodb:us-east-1:111122223333:table/%s/stream/2026-01-01T00:00:00.000"

func arnOf(table string) string { return strings.Replace(streamARN, "%s", table, 1) }

// noAPI is a DynamoDB client that must not be called: the tables have their
// key schema configured.
type noAPI struct{ ddbenc.DynamoDBAPI }

var testActions = actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{
	"status": actions.SignOnly, "visits": actions.DoNothing,
}}

func testClient(t *testing.T) *ddbenc.Client {
	t.Helper()
	h, err := signing.NewHMAC("HmacSHA256", bytes.Repeat([]byte{0x22}, 32))
	if err != nil {
		t.Fatal(err)
	}
	p, err := provider.NewStatic(bytes.Repeat([]byte{0x11}, 32), h, nil)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keyring.NewRawAES("ns", "lambda", bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ddbenc.NewClient(noAPI{}, []ddbenc.TableConfig{
		{TableName: "Legacy", PartitionKey: "pk", SortKey: "sk", Actions: testActions, Provider: p},
		{TableName: "Dbe", PartitionKey: "pk", SortKey: "sk", Format: ddbenc.DBESDKFormat, Keyring: kr, Actions: testActions,
			AllowedUnsignedAttributes: []string{"visits"}},
		{TableName: "Migrating", PartitionKey: "pk", SortKey: "sk", Format: ddbenc.DBESDKFormat, Keyring: kr, Actions: testActions,
			AllowedUnsignedAttributes: []string{"visits"}, PlaintextPolicy: ddbenc.ForbidPlaintextWriteAllowPlaintextRead},
	}, func(o *ddbenc.Options) { o.PassThroughTables = []string{"Plain"} })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func plainItem(secret string) map[string]types.AttributeValue {
	it := everyType()
	it["sk"] = n("1")
	it["secret"] = s(secret)
	it["status"] = s("active")
	it["visits"] = n("3")
	return it
}

func keysOf(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": item["pk"], "sk": item["sk"]}
}

// eventRecord is one record of the JSON Lambda delivers for a DynamoDB
// stream (StreamViewType NEW_AND_OLD_IMAGES); nil images are left out.
func eventRecord(t *testing.T, table, event string, seq int, keys, newImage, oldImage map[string]types.AttributeValue) map[string]any {
	t.Helper()
	ch := map[string]any{"ApproximateCreationDateTime": 1767225600, "SequenceNumber": strings.Repeat("1", 20) + string(rune('0'+seq)),
		"SizeBytes": 100, "StreamViewType": "NEW_AND_OLD_IMAGES"}
	for name, img := range map[string]map[string]types.AttributeValue{"Keys": keys, "NewImage": newImage, "OldImage": oldImage} {
		if img == nil {
			continue
		}
		b, err := ddbjson.MarshalItem(img)
		if err != nil {
			t.Fatal(err)
		}
		ch[name] = json.RawMessage(b)
	}
	return map[string]any{"eventID": "e" + string(rune('0'+seq)), "eventName": event, "eventVersion": "1.1", "eventSource": "aws:dynamodb",
		"awsRegion": "us-east-1", "dynamodb": ch, "eventSourceARN": arnOf(table)}
}

func decodeEvent(t *testing.T, records ...map[string]any) events.DynamoDBEvent {
	t.Helper()
	b, err := json.Marshal(map[string]any{"Records": records})
	if err != nil {
		t.Fatal(err)
	}
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestDecryptEvent: an event built from the JSON Lambda delivers, with
// INSERT, MODIFY, REMOVE and keys-only records of a legacy and a DB-ESDK
// table, decrypts to the items written.
func TestDecryptEvent(t *testing.T) {
	ctx := context.Background()
	c := testClient(t)
	for _, table := range []string{"Legacy", "Dbe"} {
		t.Run(table, func(t *testing.T) {
			enc, err := c.Encryptor(ctx, table)
			if err != nil {
				t.Fatal(err)
			}
			want := ddbenc.DBESDKItem
			if table == "Legacy" {
				want = ddbenc.LegacyItem
			}
			oldPlain, newPlain := plainItem("old s3cret"), plainItem("new s3cret")
			oldStored, err := enc.EncryptItem(ctx, oldPlain)
			if err != nil {
				t.Fatal(err)
			}
			newStored, err := enc.EncryptItem(ctx, newPlain)
			if err != nil {
				t.Fatal(err)
			}
			keys := keysOf(oldPlain)
			ev := decodeEvent(t,
				eventRecord(t, table, "INSERT", 1, keys, oldStored, nil),
				eventRecord(t, table, "MODIFY", 2, keys, newStored, oldStored),
				eventRecord(t, table, "REMOVE", 3, keys, nil, newStored),
				eventRecord(t, table, "MODIFY", 4, keys, nil, nil),
			)
			got, err := lambdaevents.DecryptEvent(ctx, c, ev)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 4 {
				t.Fatalf("%d records, want 4", len(got))
			}
			for i, w := range []struct {
				newImage, oldImage map[string]types.AttributeValue
				newF, oldF         ddbenc.ItemFormat
			}{{oldPlain, nil, want, 0}, {newPlain, oldPlain, want, want}, {nil, newPlain, 0, want}, {nil, nil, 0, 0}} {
				g := got[i]
				if (g.NewImage == nil) != (w.newImage == nil) || (g.OldImage == nil) != (w.oldImage == nil) {
					t.Errorf("record %d: images present %v/%v", i, g.NewImage != nil, g.OldImage != nil)
				}
				if diff := avtest.DiffItems(w.newImage, g.NewImage); diff != "" {
					t.Errorf("record %d NewImage (-want +got):\n%s", i, diff)
				}
				if diff := avtest.DiffItems(w.oldImage, g.OldImage); diff != "" {
					t.Errorf("record %d OldImage (-want +got):\n%s", i, diff)
				}
				if g.NewFormat != w.newF || g.OldFormat != w.oldF {
					t.Errorf("record %d formats %v/%v, want %v/%v", i, g.NewFormat, g.OldFormat, w.newF, w.oldF)
				}
				if diff := avtest.DiffItems(keys, g.Keys); diff != "" {
					t.Errorf("record %d Keys (-want +got):\n%s", i, diff)
				}
			}

			// One record alone.
			one, err := lambdaevents.DecryptRecord(ctx, enc, ev.Records[1])
			if err != nil || avtest.DiffItems(newPlain, one.NewImage) != "" || avtest.DiffItems(oldPlain, one.OldImage) != "" {
				t.Errorf("DecryptRecord: %v", err)
			}

			// A tampered image fails the event, naming the record, the table
			// and the key, never a value; nothing is returned.
			bad := avtest.Clone(newStored)
			bad["status"] = s("evil")
			ev = decodeEvent(t, eventRecord(t, table, "INSERT", 1, keys, oldStored, nil), eventRecord(t, table, "MODIFY", 2, keys, oldStored, bad))
			got, err = lambdaevents.DecryptEvent(ctx, c, ev)
			var de *ddbenc.Error
			if got != nil || !errors.Is(err, ddbenc.ErrSignature) || !errors.As(err, &de) {
				t.Fatalf("tampered OldImage: %v, %v; want ErrSignature", got, err)
			}
			if de.Table != table || de.Op != "decrypt stream OldImage" || de.Key != `{"pk":{"S":"p1"},"sk":{"N":"1"}}` ||
				!strings.Contains(err.Error(), `record 1 (eventID "e2"`) {
				t.Errorf("tampered OldImage: error %q (table %q, op %q, key %q)", err, de.Table, de.Op, de.Key)
			}
			if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "evil") {
				t.Errorf("error shows a value: %v", err)
			}
			if _, err := lambdaevents.DecryptRecord(ctx, enc, ev.Records[1], func(o *ddbenc.StreamOptions) { o.RedactKeys = true }); !errors.As(err, &de) || de.Key != "" {
				t.Errorf("RedactKeys: %v", err)
			}
			// A value the converter refuses, naming the record's key.
			rec := ev.Records[0]
			rec.Change.NewImage = map[string]events.DynamoDBAttributeValue{"pk": events.NewStringAttribute("p1"), "x": {}}
			if _, err := lambdaevents.DecryptRecord(ctx, enc, rec); !errors.Is(err, ddbenc.ErrMalformed) || !errors.As(err, &de) ||
				de.Attribute != "x" || de.Table != table || de.Key == "" {
				t.Errorf("unconvertible value: %v", err)
			}
		})
	}
}

// TestDecryptEventTables: records of a table the Client does not encrypt,
// or without a stream ARN, fail the event; a plaintext image under an
// allowing policy comes back marked PlaintextItem, and is refused under the
// default policy.
func TestDecryptEventTables(t *testing.T) {
	ctx := context.Background()
	c := testClient(t)
	plain := plainItem("s3cret")
	keys := keysOf(plain)
	for _, table := range []string{"Plain", "Nope"} {
		if got, err := lambdaevents.DecryptEvent(ctx, c, decodeEvent(t, eventRecord(t, table, "INSERT", 1, keys, plain, nil))); got != nil || !errors.Is(err, ddbenc.ErrUnknownTable) {
			t.Errorf("table %s: %v, %v; want ErrUnknownTable", table, got, err)
		}
	}
	rec := eventRecord(t, "Dbe", "INSERT", 1, keys, plain, nil)
	rec["eventSourceARN"] = "arn:aws:dynamodb:us-east-1:111122223333:table/Dbe"
	if _, err := lambdaevents.DecryptEvent(ctx, c, decodeEvent(t, rec)); !errors.Is(err, ddbenc.ErrUnknownTable) {
		t.Errorf("table ARN as eventSourceARN: %v, want ErrUnknownTable", err)
	}
	if name, err := lambdaevents.TableName(events.DynamoDBEventRecord{EventSourceArn: arnOf("Dbe")}); name != "Dbe" || err != nil {
		t.Errorf("TableName = %q, %v", name, err)
	}

	got, err := lambdaevents.DecryptEvent(ctx, c, decodeEvent(t, eventRecord(t, "Migrating", "INSERT", 1, keys, plain, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if got[0].NewFormat != ddbenc.PlaintextItem || avtest.DiffItems(plain, got[0].NewImage) != "" {
		t.Errorf("plaintext image under an allowing policy: format %v", got[0].NewFormat)
	}
	if got, err := lambdaevents.DecryptEvent(ctx, c, decodeEvent(t, eventRecord(t, "Dbe", "INSERT", 1, keys, plain, nil))); got != nil || !errors.Is(err, ddbenc.ErrPlaintextItem) {
		t.Errorf("plaintext image under the default policy: %v, %v; want ErrPlaintextItem", got, err)
	}
	if _, err := lambdaevents.DecryptEvent(ctx, nil, events.DynamoDBEvent{}); !errors.Is(err, ddbenc.ErrInvalidConfig) {
		t.Errorf("nil Client: %v", err)
	}
	if got, err := lambdaevents.DecryptEvent(ctx, c, events.DynamoDBEvent{}); err != nil || len(got) != 0 {
		t.Errorf("empty event: %v, %v", got, err)
	}
}
