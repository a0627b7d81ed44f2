package ddbenc_test

// Item benchmarks of the DB-ESDK format on the item shape of the AWS
// performance tests (see dbesdk_lowerbound_bench_test.go, which is their
// lower bound and uses the same sub-benchmark names): partition_key S and
// sort_key N sign-only, attribute1 M{data: B(size)} encrypt-and-sign,
// attribute2 S sign-only, :attribute3 S do-nothing through the allowed
// unsigned prefix ":"; one raw AES-256 keyring.

import (
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/keyring"
)

var dbeBenchSuites = []struct {
	name  string
	suite ddbenc.AlgorithmSuite
}{{"6700", ddbenc.SuiteSymmetricOnly}, {"6701", ddbenc.SuiteECDSAP384}}

func dbeBenchItem(size int) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"partition_key": &types.AttributeValueMemberS{Value: "partition-value"},
		"sort_key":      &types.AttributeValueMemberN{Value: "1"},
		"attribute1": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"data": &types.AttributeValueMemberB{Value: bytes.Repeat([]byte{0xab}, size)},
		}},
		"attribute2":  &types.AttributeValueMemberS{Value: "attribute2 value"},
		":attribute3": &types.AttributeValueMemberS{Value: "attribute3 value"},
	}
}

func dbeBenchEncryptor(b *testing.B, suite ddbenc.AlgorithmSuite) *ddbenc.Encryptor {
	b.Helper()
	kr, err := keyring.NewRawAES("performance-test", "aes-256", bytes.Repeat([]byte{7}, 32))
	if err != nil {
		b.Fatal(err)
	}
	e, err := ddbenc.NewEncryptor(ddbenc.TableConfig{
		TableName: "GazelleVectorTable", PartitionKey: "partition_key", SortKey: "sort_key",
		Format: ddbenc.DBESDKFormat, Keyring: kr, Suite: suite,
		Actions: actions.Map{Default: actions.DoNothing, Attributes: map[string]actions.Action{
			"partition_key": actions.SignOnly,
			"sort_key":      actions.SignOnly,
			"attribute1":    actions.EncryptAndSign,
			"attribute2":    actions.SignOnly,
			":attribute3":   actions.DoNothing,
		}},
		AllowedUnsignedAttributePrefix: ":",
	})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

func BenchmarkDBESDKEncryptItem(b *testing.B) {
	ctx := context.Background()
	for _, st := range dbeBenchSuites {
		e := dbeBenchEncryptor(b, st.suite)
		for _, sz := range lbSizes {
			b.Run(st.name+"/"+sz.name, func(b *testing.B) {
				item := dbeBenchItem(sz.n)
				b.ReportAllocs()
				b.SetBytes(int64(sz.n))
				for b.Loop() {
					if _, err := e.EncryptItem(ctx, item); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkDBESDKDecryptItem(b *testing.B) {
	ctx := context.Background()
	for _, st := range dbeBenchSuites {
		e := dbeBenchEncryptor(b, st.suite)
		for _, sz := range lbSizes {
			b.Run(st.name+"/"+sz.name, func(b *testing.B) {
				item := dbeBenchItem(sz.n)
				stored, err := e.EncryptItem(ctx, item)
				if err != nil {
					b.Fatal(err)
				}
				got, err := e.DecryptItem(ctx, stored)
				if err != nil {
					b.Fatal(err)
				}
				data := got["attribute1"].(*types.AttributeValueMemberM).Value["data"].(*types.AttributeValueMemberB).Value
				if !bytes.Equal(data, item["attribute1"].(*types.AttributeValueMemberM).Value["data"].(*types.AttributeValueMemberB).Value) {
					b.Fatal("round trip changed attribute1")
				}
				b.ReportAllocs()
				b.SetBytes(int64(sz.n))
				for b.Loop() {
					if _, err := e.DecryptItem(ctx, stored); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
