// Package keyring has the keyrings of the AWS Database Encryption SDK format
// (ddbenc.DBESDKFormat, docs/dbesdk-format.md §8): raw AES, raw RSA, the
// AWS KMS keyrings (NewKMS, strict; NewKMSMRK, strict and multi-Region
// aware; NewKMSMRKDiscovery, decrypt only), the hierarchical keyring over a
// pluggable branch-key source, and the multi-keyring. Each implements
// ddbenc.Keyring.
//
// Every keyring wraps the item's data key with its own random intermediate
// key (docs/dbesdk-format.md §7) and protects only that intermediate key;
// the encrypted data key's first 48 bytes are the wrapped data key. The KMS
// keyrings get each intermediate key from GenerateDataKey (never Encrypt,
// whether they are a multi-keyring's generator or a child) and send Decrypt
// with an explicit KeyId whose echo they check.
//
// In a global table each Region's writers and readers use their own
// Region's replica of a multi-Region key: write with NewKMSMRK on the local
// replica's ARN, read with NewKMSMRK on the reader's local replica (or with
// NewKMSMRKDiscovery in the reader's Region); no KMS call crosses Regions.
//
// The hierarchical keyring (NewHierarchical for one branch key id,
// NewHierarchicalWithSupplier to choose the id per item) gets its branch keys
// from a BranchKeySource: the key store of package keystore (a DynamoDB table
// of branch keys under KMS), StaticBranchKeys in tests, or a BranchKeyCache
// in front of either. The cache (docs/dbesdk-format.md §8.10.5) keeps the
// active key per branch key id and each version per (id, version) for a
// TTL, evicts the least recently used entry beyond its capacity (default
// 1000), loads each entry once however many callers ask at the same time
// (a waiter stops waiting when its own context ends), does not cache
// failures, and copies key bytes in and out. With a cache, KMS is called once
// per branch key version per TTL instead of once per item; a rotation
// (keystore.KeyStore.VersionKey) reaches writers when their active entry
// expires.
//
// A BranchKeyIDSupplier serves multi-tenant tables: it gets the item's full
// encryption context (table name, key names and values,
// SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT attributes) on encrypt and on
// decrypt and returns the branch key id, e.g. one per tenant's partition key
// value. It must return the same id for both directions; an error or an empty
// id fails the call.
//
// KMS failures map onto ddbenc's sentinels and keep the SDK error reachable
// with errors.As: ErrKeyUnavailable for throttling, KMS internal errors and
// disabled or unusable keys; ErrWrongKey for NotFoundException and
// IncorrectKeyException; ErrDecryption and ErrSignature for an
// InvalidCiphertextException on Decrypt (the item's encryption context is not
// the writer's, or the data key was changed). Context errors pass through.
package keyring

import (
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/dbesdk"
)

// ErrNoMatchingKey is wrapped (with ddbenc.ErrWrongKey) when a keyring finds
// no encrypted data key it can decrypt. A KMS keyring whose candidates failed
// with ddbenc.ErrKeyUnavailable (the key may work later) wraps neither.
var ErrNoMatchingKey = errors.New("keyring: no encrypted data key matches this keyring")

// reservedProviderID may not be a raw keyring's namespace.
const reservedProviderID = "aws-kms"

// ensurePDK generates the data key if m has none (the generator's job).
func ensurePDK(m *ddbenc.KeyringMaterials) error {
	if m.PlaintextDataKey != nil {
		if len(m.PlaintextDataKey) != dbesdk.KeyLen {
			return fmt.Errorf("%w: plaintext data key has the wrong length", ddbenc.ErrInvalidConfig)
		}
		return nil
	}
	pdk := make([]byte, dbesdk.KeyLen)
	if _, err := rand.Read(pdk); err != nil {
		return err
	}
	m.PlaintextDataKey = pdk
	return nil
}

// wrapNew draws an intermediate key for m, wraps m's data key under it and
// returns the intermediate key and the wrapped data key; add appends the
// finished EDK with its signing key.
func wrapNew(m *ddbenc.KeyringMaterials) (ik, wrapped, mac []byte, err error) {
	if err := ensurePDK(m); err != nil {
		return nil, nil, nil, err
	}
	return dbesdk.WrapWithIntermediate(m.PlaintextDataKey, m.EncryptionContext)
}

func add(m *ddbenc.KeyringMaterials, edk ddbenc.EncryptedDataKey, mac []byte) {
	m.EncryptedDataKeys = append(m.EncryptedDataKeys, edk)
	m.SymmetricSigningKeys = append(m.SymmetricSigningKeys, mac)
}

// finish opens the wrapped data key of an EDK with its recovered
// intermediate key and completes decryption materials.
func finish(m *ddbenc.KeyringMaterials, ik, ciphertext []byte) error {
	pdk, mac, err := dbesdk.UnwrapWithIntermediate(ik, ciphertext[:dbesdk.WrappedPDKLen], m.EncryptionContext)
	if err != nil {
		return err
	}
	m.PlaintextDataKey = pdk
	m.SymmetricSigningKeys = [][]byte{mac}
	return nil
}

// checkDecrypt refuses decryption materials that already hold a key.
func checkDecrypt(m *ddbenc.KeyringMaterials) error {
	if m.PlaintextDataKey != nil {
		return fmt.Errorf("%w: decryption materials already hold a data key", ddbenc.ErrInvalidConfig)
	}
	return nil
}

// noMatch is the error of a keyring that decrypted nothing; errs are the
// failures of the candidates it tried.
func noMatch(kind string, errs []error) error {
	if len(errs) == 0 {
		return fmt.Errorf("%w: %w: %s", ddbenc.ErrWrongKey, ErrNoMatchingKey, kind)
	}
	return fmt.Errorf("%w: %w: %s: %w", ddbenc.ErrWrongKey, ErrNoMatchingKey, kind, errors.Join(errs...))
}
