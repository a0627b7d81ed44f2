package ddbenc_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/ddbjson"
	"github.com/ddbec/ddbec-go/internal/keyfile"
	"github.com/ddbec/ddbec-go/internal/testvectors"
	"github.com/ddbec/ddbec-go/provider"
)

// FuzzDecryptItem feeds arbitrary items (DynamoDB JSON, seeded with every
// vector ciphertext item) to DecryptItem with the vectors' static and
// wrapped keys. It must never panic and never return plaintext together with
// an error.
func FuzzDecryptItem(f *testing.F) {
	root, err := testvectors.Root()
	if err != nil {
		f.Fatal(err)
	}
	seeds, err := testvectors.CiphertextItemsJSON(root)
	if err != nil {
		f.Fatal(err)
	}
	if len(seeds) == 0 {
		f.Fatal("empty seed corpus")
	}
	for _, seed := range seeds {
		f.Add(seed)
	}
	keys, err := keyfile.Load(filepath.Join(root, "encrypted_item", "keys.json"))
	if err != nil {
		f.Fatal(err)
	}
	verifier, _ := keys.Verifier("hmacKey")
	aesKey, _ := keys["aesKey"].AES()
	static, _ := provider.NewStatic(aesKey, nil, verifier)
	kek, _ := provider.AESWrappingKey(aesKey)
	wrapped, _ := provider.NewWrapped(kek, nil, verifier)
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
