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
	"time"

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
	return dbeBenchEncryptorWith(b, suite, kr)
}

// dbeBenchHierEncryptor is dbeBenchEncryptor with the hierarchical keyring
// over a keyring.BranchKeyCache in front of a static branch key: the
// per-item cost of a warm cache (no key store or KMS call after the first).
func dbeBenchHierEncryptor(b *testing.B, suite ddbenc.AlgorithmSuite) *ddbenc.Encryptor {
	b.Helper()
	static := keyring.NewStaticBranchKeys(keyring.BranchKey{ID: "performance-test", Version: "e9ce18a3-edb5-4272-9f86-1cacb7997ff6", Key: bytes.Repeat([]byte{7}, 32)})
	cache, err := keyring.NewBranchKeyCache(static, keyring.BranchKeyCacheOptions{TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	kr, err := keyring.NewHierarchical("performance-test", cache)
	if err != nil {
		b.Fatal(err)
	}
	return dbeBenchEncryptorWith(b, suite, kr)
}

func dbeBenchEncryptorWith(b *testing.B, suite ddbenc.AlgorithmSuite, kr ddbenc.Keyring) *ddbenc.Encryptor {
	b.Helper()
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

func BenchmarkDBESDKEncryptItem(b *testing.B) { benchDBESDKEncrypt(b, dbeBenchEncryptor) }

func BenchmarkDBESDKDecryptItem(b *testing.B) { benchDBESDKDecrypt(b, dbeBenchEncryptor) }

// The hierarchical keyring behind a warm branch key cache, beside the raw
// AES benchmarks above (same sub-benchmark names).
func BenchmarkDBESDKHierarchicalEncryptItem(b *testing.B) {
	benchDBESDKEncrypt(b, dbeBenchHierEncryptor)
}

func BenchmarkDBESDKHierarchicalDecryptItem(b *testing.B) {
	benchDBESDKDecrypt(b, dbeBenchHierEncryptor)
}

func benchDBESDKEncrypt(b *testing.B, newEncryptor func(*testing.B, ddbenc.AlgorithmSuite) *ddbenc.Encryptor) {
	ctx := context.Background()
	for _, st := range dbeBenchSuites {
		e := newEncryptor(b, st.suite)
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

func benchDBESDKDecrypt(b *testing.B, newEncryptor func(*testing.B, ddbenc.AlgorithmSuite) *ddbenc.Encryptor) {
	ctx := context.Background()
	for _, st := range dbeBenchSuites {
		e := newEncryptor(b, st.suite)
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
