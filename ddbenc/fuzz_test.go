package ddbenc_test

import (
	"context"
	"testing"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/ddbjson"
	"github.com/ddbec/ddbec-go/internal/keyfile"
	"github.com/ddbec/ddbec-go/internal/testvectors"
)

// FuzzDecryptItem feeds arbitrary items (DynamoDB JSON, seeded with every
// vector ciphertext item) to DecryptItem with the vectors' static and
// wrapped keys. It must never panic and never return plaintext together with
// an error.
func FuzzDecryptItem(f *testing.F) {
	for _, seed := range testvectors.Seeds(f, testvectors.CiphertextItemSeeds) {
		f.Add(seed)
	}
	root, err := testvectors.Root()
	if err != nil {
		f.Fatal(err)
	}
	keys, err := keyfile.Load(testvectors.KeysFile(root))
	if err != nil {
		f.Fatal(err)
	}
	verifier, err := keys.Verifier("hmacKey")
	if err != nil {
		f.Fatal(err)
	}
	static, err := keys.Static("aesKey", nil, verifier)
	if err != nil {
		f.Fatal(err)
	}
	wrapped, err := keys.Wrapped("", "aesKey", nil, verifier)
	if err != nil {
		f.Fatal(err)
	}
	var encs []*ddbenc.Encryptor
	for _, p := range []ddbenc.MaterialsProvider{static, wrapped} {
		for _, acts := range []actions.Map{
			{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{"version": actions.SignOnly}},
			{Default: actions.SignOnly},
		} {
			e, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: "TableName", PartitionKey: "hashKey", SortKey: "rangeKey", Actions: acts, Provider: p})
			if err != nil {
				f.Fatal(err)
			}
			encs = append(encs, e)
		}
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		item, err := ddbjson.UnmarshalItem(data)
		if err != nil {
			return
		}
		for _, e := range encs {
			got, err := e.DecryptItem(ctx, item)
			if err != nil && got != nil {
				t.Fatalf("plaintext returned together with an error: %v", err)
			}
		}
	})
}
