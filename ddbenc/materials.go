package ddbenc

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/signing"
)

// EncryptionContext is what a MaterialsProvider learns about the item it
// provides keys for (docs/legacy-format.md §5.2).
type EncryptionContext struct {
	// TableName is the table name bound into the signature (and, for KMS, the
	// KMS encryption context).
	TableName        string
	PartitionKeyName string
	SortKeyName      string // empty when the table has no sort key
	// Item is the plaintext item on encrypt and the stored item (without the
	// two reserved attributes) on decrypt. Providers must not modify it.
	Item map[string]types.AttributeValue
	// MaterialDescription is empty on encrypt and the item's parsed material
	// description on decrypt. Providers must not modify it.
	MaterialDescription map[string]string
}

// EncryptionMaterials are the keys for writing one item.
type EncryptionMaterials struct {
	// EncryptionKey is the raw AES content key (16, 24 or 32 bytes), or nil
	// when the provider only signs; then no attribute may be encrypted.
	EncryptionKey []byte
	// Signer signs the item. Required.
	Signer signing.Signer
	// MaterialDescription is stored in the item (the encryptor adds the
	// symmetric mode and the signing algorithm). It is copied, not modified.
	MaterialDescription map[string]string
}

// DecryptionMaterials are the keys for reading one item.
type DecryptionMaterials struct {
	// DecryptionKey is the raw AES content key, or nil when the provider only
	// verifies.
	DecryptionKey []byte
	// Verifier verifies the item's signature. Required.
	Verifier signing.Verifier
}

// MaterialsProvider supplies the keys for each item. Implementations are in
// package provider; they must be safe for concurrent use.
//
// Errors should wrap the sentinels of this package (ErrWrongKey,
// ErrDecryption, ErrMissingAttribute, ErrMalformed, ErrInvalidConfig) and must
// never contain key material or attribute values.
type MaterialsProvider interface {
	EncryptionMaterials(ctx context.Context, ec EncryptionContext) (*EncryptionMaterials, error)
	DecryptionMaterials(ctx context.Context, ec EncryptionContext) (*DecryptionMaterials, error)
}
