package ddbenc_test

import (
	"context"
	"errors"
	"maps"
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
	// A plain item is still a missing signature; with only one of the two
	// DB-ESDK attributes it is a DB-ESDK item.
	delete(item, "aws_dbe_head")
	if _, err := e.DecryptItem(context.Background(), item); !errors.Is(err, ddbenc.ErrMalformed) {
		t.Errorf("DecryptItem(item with aws_dbe_foot) = %v, want ErrMalformed", err)
	}
	delete(item, "aws_dbe_foot")
	if _, err := e.DecryptItem(context.Background(), item); !errors.Is(err, ddbenc.ErrMissingAttribute) {
		t.Errorf("DecryptItem(plain item) = %v, want ErrMissingAttribute", err)
	}
}

// descProvider adds entries to the description its provider returns, as a
// third-party provider might.
type descProvider struct {
	ddbenc.MaterialsProvider
	extra map[string]string
}

func (p descProvider) EncryptionMaterials(ctx context.Context, ec ddbenc.EncryptionContext) (*ddbenc.EncryptionMaterials, error) {
	m, err := p.MaterialsProvider.EncryptionMaterials(ctx, ec)
	if err != nil {
		return nil, err
	}
	desc := maps.Clone(m.MaterialDescription)
	if desc == nil {
		desc = map[string]string{}
	}
	maps.Copy(desc, p.extra)
	m.MaterialDescription = desc
	return m, nil
}

func TestProviderDescriptionCarriesEncryptorEntry(t *testing.T) {
	for _, k := range []string{legacy.SymMode, legacy.SigningAlgorithm} {
		// The library's providers refuse such entries at construction...
		_, err := provider.NewStatic(aesKey, mustHMAC(t, macKey), nil, func(o *provider.StaticOptions) {
			o.MaterialDescription = map[string]string{k: "x"}
		})
		if !errors.Is(err, ddbenc.ErrInvalidConfig) || !strings.Contains(err.Error(), k) {
			t.Errorf("%s: NewStatic = %v, want ErrInvalidConfig naming the entry", k, err)
		}
		// ...and the encryptor refuses a provider that returns one.
		static, err := provider.NewStatic(aesKey, mustHMAC(t, macKey), nil)
		if err != nil {
			t.Fatal(err)
		}
		e := newEncryptor(t, descProvider{static, map[string]string{k: "x"}}, testActions)
		_, err = e.EncryptItem(context.Background(), map[string]types.AttributeValue{
			pk: &types.AttributeValueMemberS{Value: "p"}, sk: &types.AttributeValueMemberN{Value: "1"},
		})
		if !errors.Is(err, ddbenc.ErrInvalidConfig) || !strings.Contains(err.Error(), k) {
			t.Errorf("%s: EncryptItem = %v, want ErrInvalidConfig naming the entry", k, err)
		}
	}
}
