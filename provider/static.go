// Package provider implements materials providers for ddbenc, all in the
// legacy DynamoDB Encryption Client's format (docs/legacy-format.md §6): the direct KMS
// provider bound to one regional key ARN (NewDirectKMS: for a multi-Region
// key, each Region's writer or reader uses its local replica's ARN and never
// calls another Region), the static symmetric provider, the wrapped
// (envelope) provider with AES key wrap or RSA-OAEP, and the asymmetric
// static provider.
package provider

import (
	"context"
	"fmt"
	"maps"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/legacy"
	"github.com/ddbec/ddbec-go/signing"
)

// StaticOptions are the optional settings of NewStatic.
type StaticOptions struct {
	// MaterialDescription is written into every item. On decrypt the item's
	// description must contain every entry (the Java client's filter), so
	// different static keys can be told apart by a "key id" entry.
	MaterialDescription map[string]string
}

// Static uses one AES content key and one signing key for every item
// (Java SymmetricStaticProvider, Python StaticCryptographicMaterialsProvider).
type Static struct {
	key      []byte
	signer   signing.Signer
	verifier signing.Verifier
	desc     map[string]string
}

// NewStatic returns a static provider. encryptionKey is a 16-, 24- or 32-byte
// AES key, or nil for a provider that only signs. signer may be nil for a
// read-only provider and verifier nil for a write-only one; when verifier is
// nil and signer can verify (HMAC, RSA private key), signer verifies.
func NewStatic(encryptionKey []byte, signer signing.Signer, verifier signing.Verifier, optFns ...func(*StaticOptions)) (*Static, error) {
	var opts StaticOptions
	for _, fn := range optFns {
		fn(&opts)
	}
	if encryptionKey != nil && !legacy.ValidAESKey(encryptionKey) {
		return nil, fmt.Errorf("%w: provider: AES key must be 16, 24 or 32 bytes", ddbenc.ErrInvalidConfig)
	}
	if verifier == nil {
		verifier, _ = signer.(signing.Verifier)
	}
	if signer == nil && verifier == nil {
		return nil, fmt.Errorf("%w: provider: a signing or verification key is required", ddbenc.ErrInvalidConfig)
	}
	if k, ok := legacy.EncryptorEntry(opts.MaterialDescription); ok {
		return nil, fmt.Errorf("%w: provider: material description entry %q is written by the encryptor and cannot be configured", ddbenc.ErrInvalidConfig, k)
	}
	return &Static{
		key:      cloneBytes(encryptionKey),
		signer:   signer,
		verifier: verifier,
		desc:     maps.Clone(opts.MaterialDescription),
	}, nil
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// EncryptionMaterials returns the static keys.
func (s *Static) EncryptionMaterials(_ context.Context, _ ddbenc.EncryptionContext) (*ddbenc.EncryptionMaterials, error) {
	if s.signer == nil {
		return nil, fmt.Errorf("%w: provider: no signing key configured", ddbenc.ErrInvalidConfig)
	}
	return &ddbenc.EncryptionMaterials{EncryptionKey: s.key, Signer: s.signer, MaterialDescription: maps.Clone(s.desc)}, nil
}

// DecryptionMaterials returns the static keys. Items written by an envelope
// provider (wrapped, KMS, most-recent) are rejected with ErrWrongKey, as are
// items whose description lacks one of the configured entries.
func (s *Static) DecryptionMaterials(_ context.Context, ec ddbenc.EncryptionContext) (*ddbenc.DecryptionMaterials, error) {
	if s.verifier == nil {
		return nil, fmt.Errorf("%w: provider: no verification key configured", ddbenc.ErrInvalidConfig)
	}
	if _, ok := ec.MaterialDescription[legacy.EnvelopeKey]; ok {
		return nil, fmt.Errorf("%w: provider: item was written by an envelope (wrapped or KMS) provider, not a static one", ddbenc.ErrWrongKey)
	}
	for k, v := range s.desc {
		if ec.MaterialDescription[k] != v {
			return nil, fmt.Errorf("%w: provider: item's material description does not match entry %q", ddbenc.ErrWrongKey, k)
		}
	}
	return &ddbenc.DecryptionMaterials{DecryptionKey: s.key, Verifier: s.verifier}, nil
}

var _ ddbenc.MaterialsProvider = (*Static)(nil)
