package ddbenc_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/avtest"
)

// everyType is an item with a value of every type, nested in maps and lists,
// and the edge cases of each (empty string and binary, empty list and map,
// false, a number that is not canonical).
func everyType() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		pk:      s("p1"),
		sk:      n("007.50"),
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

// TestConvertStreamItem: every type converts value for value, equal to what
// the SDK's own converter (attributevalue.FromDynamoDBStreamsMap) gives and
// to the item the stream record was made of; bytes are copied.
func TestConvertStreamItem(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 2))
	items := []map[string]types.AttributeValue{everyType()}
	for range 200 {
		items = append(items, avtest.RandomItem(r, pk, sk, 8))
	}
	for i, want := range items {
		in := avtest.ToStreams(want)
		got, err := ddbenc.ConvertStreamItem(in)
		if err != nil {
			t.Fatalf("item %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("item %d: converted item differs:\n got %v\nwant %v", i, avtest.NormalizeItem(got), avtest.NormalizeItem(want))
		}
		sdk, err := attributevalue.FromDynamoDBStreamsMap(in)
		if err != nil {
			t.Fatalf("item %d: SDK converter: %v", i, err)
		}
		if !reflect.DeepEqual(got, sdk) {
			t.Fatalf("item %d: differs from the SDK's conversion:\n got %v\n sdk %v", i, avtest.NormalizeItem(got), avtest.NormalizeItem(sdk))
		}
	}

	// One value at a time, and nil.
	v, err := ddbenc.ConvertStreamValue(&streamstypes.AttributeValueMemberN{Value: "1e3"})
	if err != nil || !reflect.DeepEqual(v, types.AttributeValue(n("1e3"))) {
		t.Errorf("ConvertStreamValue = %v, %v", v, err)
	}
	if m, err := ddbenc.ConvertStreamItem(nil); m != nil || err != nil {
		t.Errorf("ConvertStreamItem(nil) = %v, %v; want nil, nil", m, err)
	}

	// Bytes are copied: changing the record afterwards changes nothing.
	in := map[string]streamstypes.AttributeValue{
		"b":  &streamstypes.AttributeValueMemberB{Value: []byte{1}},
		"bs": &streamstypes.AttributeValueMemberBS{Value: [][]byte{{2}}},
		"ss": &streamstypes.AttributeValueMemberSS{Value: []string{"a"}},
	}
	got, err := ddbenc.ConvertStreamItem(in)
	if err != nil {
		t.Fatal(err)
	}
	in["b"].(*streamstypes.AttributeValueMemberB).Value[0] = 9
	in["bs"].(*streamstypes.AttributeValueMemberBS).Value[0][0] = 9
	in["ss"].(*streamstypes.AttributeValueMemberSS).Value[0] = "z"
	if got["b"].(*types.AttributeValueMemberB).Value[0] != 1 || got["bs"].(*types.AttributeValueMemberBS).Value[0][0] != 2 ||
		got["ss"].(*types.AttributeValueMemberSS).Value[0] != "a" {
		t.Error("converted values share memory with the record")
	}
}

// TestConvertStreamItemRefuses: nil values, at the top or nested, and union
// members the SDK did not know are ErrMalformed naming the attribute.
func TestConvertStreamItemRefuses(t *testing.T) {
	for name, v := range map[string]streamstypes.AttributeValue{
		"nil":        nil,
		"typed nil":  (*streamstypes.AttributeValueMemberS)(nil),
		"nil in L":   &streamstypes.AttributeValueMemberL{Value: []streamstypes.AttributeValue{&streamstypes.AttributeValueMemberS{Value: "x"}, nil}},
		"nil in M":   &streamstypes.AttributeValueMemberM{Value: map[string]streamstypes.AttributeValue{"k": (*streamstypes.AttributeValueMemberM)(nil)}},
		"unknown":    &streamstypes.UnknownUnionMember{Tag: "X", Value: []byte("secret")},
		"deep nil L": &streamstypes.AttributeValueMemberM{Value: map[string]streamstypes.AttributeValue{"l": &streamstypes.AttributeValueMemberL{Value: []streamstypes.AttributeValue{nil}}}},
	} {
		got, err := ddbenc.ConvertStreamItem(map[string]streamstypes.AttributeValue{"ok": &streamstypes.AttributeValueMemberS{Value: "x"}, "attr": v})
		var de *ddbenc.Error
		if got != nil || !errors.Is(err, ddbenc.ErrMalformed) || !errors.As(err, &de) || de.Attribute != "attr" {
			t.Errorf("%s: %v, %v; want ErrMalformed naming attr", name, got, err)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error shows a value: %v", name, err)
		}
	}
	deep := streamstypes.AttributeValue(&streamstypes.AttributeValueMemberS{Value: "x"})
	for range 100 {
		deep = &streamstypes.AttributeValueMemberL{Value: []streamstypes.AttributeValue{deep}}
	}
	if _, err := ddbenc.ConvertStreamValue(deep); !errors.Is(err, ddbenc.ErrMalformed) {
		t.Errorf("value nested 100 deep: %v, want ErrMalformed", err)
	}
}

// record builds a stream record of the table whose images are the stored
// items given (nil for none).
func record(event streamstypes.OperationType, keys, newImage, oldImage map[string]types.AttributeValue) streamstypes.Record {
	return streamstypes.Record{EventName: event, EventID: aws.String("e1"), Dynamodb: &streamstypes.StreamRecord{
		Keys: avtest.ToStreams(keys), NewImage: avtest.ToStreams(newImage), OldImage: avtest.ToStreams(oldImage),
		SequenceNumber: aws.String("100"), StreamViewType: streamstypes.StreamViewTypeNewAndOldImages,
	}}
}

func keysOf(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{pk: item[pk], sk: item[sk]}
}

// TestDecryptStreamRecord: the images of INSERT, MODIFY and REMOVE records
// and of keys-only records, on a legacy-format and a DB-ESDK table.
func TestDecryptStreamRecord(t *testing.T) {
	ctx := context.Background()
	legacyCfg := peopleConfig(t)
	legacyCfg.Indexes = nil
	for name, cfg := range map[string]ddbenc.TableConfig{"legacy": legacyCfg, "dbesdk": dbeClientConfig(t)} {
		t.Run(name, func(t *testing.T) {
			enc, err := ddbenc.NewEncryptor(cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := ddbenc.DBESDKItem
			if cfg.Format == ddbenc.LegacyFormat {
				want = ddbenc.LegacyItem
			}
			oldPlain := dbeClientItem()
			newPlain := withAttr(oldPlain, "secret", s("n3w"))
			newPlain["email"] = s("b@example.com")
			oldStored, err := enc.EncryptItem(ctx, oldPlain)
			if err != nil {
				t.Fatal(err)
			}
			newStored, err := enc.EncryptItem(ctx, newPlain)
			if err != nil {
				t.Fatal(err)
			}
			keys := keysOf(oldPlain)
			for _, tc := range []struct {
				name               string
				rec                streamstypes.Record
				wantNew, wantOld   map[string]types.AttributeValue
				wantKeys           bool
				newFormat, oldForm ddbenc.ItemFormat
			}{
				{"INSERT", record(streamstypes.OperationTypeInsert, keys, newStored, nil), newPlain, nil, true, want, 0},
				{"MODIFY", record(streamstypes.OperationTypeModify, keys, newStored, oldStored), newPlain, oldPlain, true, want, want},
				{"REMOVE", record(streamstypes.OperationTypeRemove, keys, nil, oldStored), nil, oldPlain, true, 0, want},
				{"KEYS_ONLY", record(streamstypes.OperationTypeModify, keys, nil, nil), nil, nil, true, 0, 0},
				{"empty images", record(streamstypes.OperationTypeModify, keys, map[string]types.AttributeValue{}, map[string]types.AttributeValue{}), nil, nil, true, 0, 0},
				{"no Keys", record(streamstypes.OperationTypeInsert, nil, newStored, nil), newPlain, nil, false, want, 0},
				{"no change", streamstypes.Record{EventName: streamstypes.OperationTypeInsert}, nil, nil, false, 0, 0},
			} {
				got, err := ddbenc.DecryptStreamRecord(ctx, enc, tc.rec)
				if err != nil {
					t.Errorf("%s: %v", tc.name, err)
					continue
				}
				if (got.NewImage == nil) != (tc.wantNew == nil) || (got.OldImage == nil) != (tc.wantOld == nil) {
					t.Errorf("%s: images present %v/%v, want %v/%v", tc.name, got.NewImage != nil, got.OldImage != nil, tc.wantNew != nil, tc.wantOld != nil)
				}
				if diff := avtest.DiffItems(tc.wantNew, got.NewImage); diff != "" {
					t.Errorf("%s: NewImage (-want +got):\n%s", tc.name, diff)
				}
				if diff := avtest.DiffItems(tc.wantOld, got.OldImage); diff != "" {
					t.Errorf("%s: OldImage (-want +got):\n%s", tc.name, diff)
				}
				if got.NewFormat != tc.newFormat || got.OldFormat != tc.oldForm {
					t.Errorf("%s: formats %v/%v, want %v/%v", tc.name, got.NewFormat, got.OldFormat, tc.newFormat, tc.oldForm)
				}
				if tc.wantKeys {
					if diff := avtest.DiffItems(keys, got.Keys); diff != "" {
						t.Errorf("%s: Keys (-want +got):\n%s", tc.name, diff)
					}
				} else if got.Keys != nil {
					t.Errorf("%s: Keys %v, want none", tc.name, got.Keys)
				}
			}
		})
	}
	if _, err := ddbenc.DecryptStreamRecord(ctx, nil, streamstypes.Record{}); !errors.Is(err, ddbenc.ErrInvalidConfig) {
		t.Errorf("nil Encryptor: %v, want ErrInvalidConfig", err)
	}
}

// TestDecryptStreamRecordRefusesTampered: an image changed after it was
// signed, in either position, fails the whole record: nothing of either
// image is returned, and the error names the table, the image and the key
// (or not, with RedactKeys), never a value.
func TestDecryptStreamRecordRefusesTampered(t *testing.T) {
	ctx := context.Background()
	legacyCfg := peopleConfig(t)
	legacyCfg.Indexes = nil
	for name, cfg := range map[string]ddbenc.TableConfig{"legacy": legacyCfg, "dbesdk": dbeClientConfig(t)} {
		t.Run(name, func(t *testing.T) {
			enc, err := ddbenc.NewEncryptor(cfg)
			if err != nil {
				t.Fatal(err)
			}
			plain := dbeClientItem()
			stored, err := enc.EncryptItem(ctx, plain)
			if err != nil {
				t.Fatal(err)
			}
			other, err := enc.EncryptItem(ctx, withAttr(plain, "secret", s("zq0th3r")))
			if err != nil {
				t.Fatal(err)
			}
			keys := keysOf(plain)
			for _, tc := range []struct {
				name  string
				image map[string]types.AttributeValue
				want  error
			}{
				{"signed attribute changed", withAttr(stored, "email", s("evil@example.com")), ddbenc.ErrSignature},
				{"ciphertext from another item", withAttr(stored, "secret", other["secret"]), nil},
				{"signed attribute removed", func() map[string]types.AttributeValue { m := avtest.Clone(stored); delete(m, "email"); return m }(), ddbenc.ErrSignature},
				{"plaintext", plain, nil},
			} {
				for _, pos := range []string{"NewImage", "OldImage"} {
					rec := record(streamstypes.OperationTypeModify, keys, stored, tc.image)
					if pos == "NewImage" {
						rec = record(streamstypes.OperationTypeModify, keys, tc.image, stored)
					}
					got, err := ddbenc.DecryptStreamRecord(ctx, enc, rec)
					var de *ddbenc.Error
					switch {
					case err == nil:
						t.Errorf("%s in %s: accepted", tc.name, pos)
						continue
					case tc.want != nil && !errors.Is(err, tc.want):
						t.Errorf("%s in %s: %v, want %v", tc.name, pos, err, tc.want)
					case !errors.As(err, &de):
						t.Errorf("%s in %s: %T, want *ddbenc.Error", tc.name, pos, err)
						continue
					}
					if !reflect.DeepEqual(got, ddbenc.StreamImages{}) {
						t.Errorf("%s in %s: returned %v with the error", tc.name, pos, got)
					}
					if de.Table != cfg.TableName || de.Op != "decrypt stream "+pos || de.Key != `{"pk":{"S":"alice"},"sk":{"N":"1"}}` {
						t.Errorf("%s in %s: error %q names table %q, op %q, key %q", tc.name, pos, err, de.Table, de.Op, de.Key)
					}
					for _, secret := range []string{"s3cret", "evil", "zq0th3r"} {
						if strings.Contains(err.Error(), secret) {
							t.Errorf("%s in %s: error shows a value: %v", tc.name, pos, err)
						}
					}
					if _, err := ddbenc.DecryptStreamRecord(ctx, enc, rec, func(o *ddbenc.StreamOptions) { o.RedactKeys = true }); !errors.As(err, &de) || de.Key != "" {
						t.Errorf("%s in %s, RedactKeys: %v names key %q", tc.name, pos, err, de.Key)
					}
				}
			}

			// Keys that are not the image's key.
			rec := record(streamstypes.OperationTypeInsert, keysOf(withAttr(plain, pk, s("bob"))), stored, nil)
			if got, err := ddbenc.DecryptStreamRecord(ctx, enc, rec); !errors.Is(err, ddbenc.ErrMalformed) || got.NewImage != nil {
				t.Errorf("Keys of another item: %v, %v; want ErrMalformed", got.NewImage, err)
			}
			rec = record(streamstypes.OperationTypeInsert, map[string]types.AttributeValue{pk: plain[pk]}, stored, nil)
			if got, err := ddbenc.DecryptStreamRecord(ctx, enc, rec); !errors.Is(err, ddbenc.ErrMalformed) || got.NewImage != nil {
				t.Errorf("Keys without the sort key: %v, %v; want ErrMalformed", got.NewImage, err)
			}
			// An image the SDK could not decode.
			rec = record(streamstypes.OperationTypeInsert, keys, stored, nil)
			rec.Dynamodb.NewImage["secret"] = &streamstypes.UnknownUnionMember{Tag: "X"}
			var de *ddbenc.Error
			if _, err := ddbenc.DecryptStreamRecord(ctx, enc, rec); !errors.Is(err, ddbenc.ErrMalformed) || !errors.As(err, &de) ||
				de.Table != cfg.TableName || de.Attribute != "secret" || de.Key == "" || de.Op != "decrypt stream NewImage" {
				t.Errorf("unknown union member: %v", err)
			}
		})
	}
}

// TestDecryptStreamRecordPolicies: images are read under the table's
// migration policies, as ReadItem reads items: a plaintext image comes back
// marked PlaintextItem where the policy allows it and is refused where not;
// a legacy image is read by a legacy configuration.
func TestDecryptStreamRecordPolicies(t *testing.T) {
	ctx := context.Background()
	plain := migPlain("alice")
	keys := keysOf(plain)
	rec := record(streamstypes.OperationTypeInsert, keys, plain, nil)

	allow := migEncryptor(t, noLegacy, ddbenc.ForbidPlaintextWriteAllowPlaintextRead)
	got, err := ddbenc.DecryptStreamRecord(ctx, allow, rec)
	if err != nil {
		t.Fatal(err)
	}
	if got.NewFormat != ddbenc.PlaintextItem {
		t.Errorf("plaintext image read as %v, want PlaintextItem", got.NewFormat)
	}
	if diff := avtest.DiffItems(plain, got.NewImage); diff != "" {
		t.Errorf("plaintext image (-want +got):\n%s", diff)
	}

	forbid := migEncryptor(t, noLegacy, ddbenc.ForbidPlaintextWriteForbidPlaintextRead)
	if got, err := ddbenc.DecryptStreamRecord(ctx, forbid, rec); !errors.Is(err, ddbenc.ErrPlaintextItem) || got.NewImage != nil {
		t.Errorf("plaintext image, forbidding policy: %v, %v; want ErrPlaintextItem", got.NewImage, err)
	}

	legacyStored, err := oldLegacyEncryptor(t).EncryptItem(ctx, plain)
	if err != nil {
		t.Fatal(err)
	}
	lrec := record(streamstypes.OperationTypeModify, keys, legacyStored, legacyStored)
	got, err = ddbenc.DecryptStreamRecord(ctx, migEncryptor(t, ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt, 0), lrec)
	if err != nil {
		t.Fatal(err)
	}
	if got.NewFormat != ddbenc.LegacyItem || got.OldFormat != ddbenc.LegacyItem {
		t.Errorf("legacy images read as %v/%v, want LegacyItem", got.NewFormat, got.OldFormat)
	}
	if diff := avtest.DiffItems(plain, got.NewImage); diff != "" {
		t.Errorf("legacy image (-want +got):\n%s", diff)
	}
	if _, err := ddbenc.DecryptStreamRecord(ctx, migEncryptor(t, ddbenc.ForbidLegacyEncryptForbidLegacyDecrypt, 0), lrec); !errors.Is(err, ddbenc.ErrLegacyItem) {
		t.Errorf("legacy image, forbidding policy: %v, want ErrLegacyItem", err)
	}
	if _, err := ddbenc.DecryptStreamRecord(ctx, migEncryptor(t, noLegacy, 0), lrec); !errors.Is(err, ddbenc.ErrLegacyItem) {
		t.Errorf("legacy image, no legacy configuration: %v, want ErrLegacyItem", err)
	}
}

// TestClientEncryptor: a Client hands out the Encryptor of a configured
// table (by name or ARN, reading the key schema first if needed) and refuses
// unknown and pass-through tables.
func TestClientEncryptor(t *testing.T) {
	ctx := context.Background()
	c, rec := newRecordedClient(t)
	for _, name := range []string{"People", tableARN} {
		enc, err := c.Encryptor(ctx, name)
		if err != nil || enc == nil || enc.TableName() != "People" {
			t.Errorf("Encryptor(%q) = %v, %v", name, enc, err)
		}
	}
	for _, name := range []string{"Plain", "Nope"} {
		enc, err := c.Encryptor(ctx, name)
		var de *ddbenc.Error
		if enc != nil || !errors.Is(err, ddbenc.ErrUnknownTable) || !errors.As(err, &de) || de.Table != name {
			t.Errorf("Encryptor(%q) = %v, %v; want ErrUnknownTable naming the table", name, enc, err)
		}
	}
	if len(rec.sent()) != 0 {
		t.Errorf("requests sent: %v", rec.sent())
	}

	// A table configured without its key schema: read with DescribeTable.
	desc := &types.TableDescription{TableName: aws.String("People"), KeySchema: []types.KeySchemaElement{
		{AttributeName: aws.String(pk), KeyType: types.KeyTypeHash}, {AttributeName: aws.String(sk), KeyType: types.KeyTypeRange}}}
	rec = &recorder{desc: desc}
	cfg := peopleConfig(t)
	cfg.PartitionKey, cfg.SortKey, cfg.Indexes = "", "", nil
	c2, err := ddbenc.NewClient(rec, []ddbenc.TableConfig{cfg})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := c2.Encryptor(ctx, "People")
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.sent()) != 1 {
		t.Errorf("%d requests, want one DescribeTable", len(rec.sent()))
	}
	plain := map[string]types.AttributeValue{pk: s("a"), sk: n("1"), "secret": s("x")}
	stored, err := enc.EncryptItem(ctx, plain)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ddbenc.DecryptStreamRecord(ctx, enc, record(streamstypes.OperationTypeInsert, keysOf(plain), stored, nil))
	if err != nil || avtest.DiffItems(plain, got.NewImage) != "" {
		t.Errorf("record of a discovered table: %v, %v", got.NewImage, err)
	}
	// A failed DescribeTable is an error, not an Encryptor.
	c3, err := ddbenc.NewClient(&recorder{}, []ddbenc.TableConfig{cfg})
	if err != nil {
		t.Fatal(err)
	}
	if enc, err := c3.Encryptor(ctx, "People"); enc != nil || err == nil {
		t.Errorf("Encryptor with a failing DescribeTable = %v, %v", enc, err)
	}
}

// TestCoreDoesNotImportLambda: only package lambdaevents depends on
// aws-lambda-go.
func TestCoreDoesNotImportLambda(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("SKIPPED: no go command to list dependencies with")
	}
	out, err := exec.Command(goBin, "list", "-deps", "github.com/ddbec/ddbec-go/ddbenc").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "github.com/ddbec/ddbec-go/ddbenc\n") {
		t.Fatalf("go list printed no ddbenc:\n%s", out)
	}
	if strings.Contains(string(out), "aws-lambda-go") {
		t.Errorf("package ddbenc depends on aws-lambda-go:\n%s", out)
	}
}
