package ddbenc_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/legacy"
	"github.com/ddbec/ddbec-go/provider"
)

func TestDecryptDBESDKItem(t *testing.T) {
	e := newEncryptor(t, providers(t)["wrapped-aes"], testActions)
	item := map[string]types.AttributeValue{
		pk:             &types.AttributeValueMemberS{Value: "p"},
		sk:             &types.AttributeValueMemberN{Value: "1"},
		"aws_dbe_head": &types.AttributeValueMemberB{Value: []byte{1}},
		"aws_dbe_foot": &types.AttributeValueMemberB{Value: []byte{2}},
	}
	_, err := e.DecryptItem(context.Background(), item)
	var de *ddbenc.Error
	if !errors.Is(err, ddbenc.ErrMalformed) || !errors.As(err, &de) || de.Attribute != "aws_dbe_head" ||
		!strings.Contains(err.Error(), "Database Encryption SDK") || !strings.Contains(err.Error(), "configured for the legacy") {
		t.Errorf("DecryptItem(DB-ESDK item) = %v, want ErrMalformed naming the DB-ESDK format", err)
	}
	// A plain item is still a missing signature.
	delete(item, "aws_dbe_head")
	if _, err := e.DecryptItem(context.Background(), item); !errors.Is(err, ddbenc.ErrMissingAttribute) {
		t.Errorf("DecryptItem(plain item) = %v, want ErrMissingAttribute", err)
	}
}

// descProvider hands out fixed encryption materials with the description
// it is given, as a provider that does not check its description would.
type descProvider struct {
	ddbenc.MaterialsProvider
	desc map[string]string
	t    *testing.T
}

func (p descProvider) EncryptionMaterials(context.Context, ddbenc.EncryptionContext) (*ddbenc.EncryptionMaterials, error) {
	return &ddbenc.EncryptionMaterials{EncryptionKey: aesKey, Signer: mustHMAC(p.t, macKey), MaterialDescription: p.desc}, nil
}

func TestProviderDescriptionCarriesEncryptorEntry(t *testing.T) {
	for _, k := range []string{legacy.SymMode, legacy.SigningAlgorithm} {
		// The providers refuse such a description when they are built...
		_, err := provider.NewStatic(aesKey, mustHMAC(t, macKey), nil, func(o *provider.StaticOptions) {
			o.MaterialDescription = map[string]string{k: "x"}
		})
		if !errors.Is(err, ddbenc.ErrInvalidConfig) || !strings.Contains(err.Error(), k) {
			t.Errorf("%s: NewStatic = %v, want ErrInvalidConfig naming the entry", k, err)
		}
		// ...and the Encryptor refuses it from any other provider.
		e := newEncryptor(t, descProvider{desc: map[string]string{k: "x"}, t: t}, testActions)
		_, err = e.EncryptItem(context.Background(), map[string]types.AttributeValue{
			pk: &types.AttributeValueMemberS{Value: "p"}, sk: &types.AttributeValueMemberN{Value: "1"},
		})
		if !errors.Is(err, ddbenc.ErrInvalidConfig) || !strings.Contains(err.Error(), k) {
			t.Errorf("%s: EncryptItem = %v, want ErrInvalidConfig naming the entry", k, err)
		}
	}
}
