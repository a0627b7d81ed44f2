package ddbenc

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/ddbec/ddbec-go/internal/dbesdk"
)

// AlgorithmSuite is an algorithm suite of the AWS Database Encryption SDK
// format (docs/dbesdk-format.md §5.1).
type AlgorithmSuite uint16

const (
	// SuiteDefault (zero) means SuiteECDSAP384.
	SuiteDefault AlgorithmSuite = 0
	// SuiteSymmetricOnly is 0x6700 (ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY_SYMSIG_HMAC_SHA384):
	// per-recipient HMAC-SHA384 tags, no asymmetric signature.
	SuiteSymmetricOnly AlgorithmSuite = 0x6700
	// SuiteECDSAP384 is 0x6701 (ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384_SYMSIG_HMAC_SHA384),
	// the default: tags plus an ECDSA P-384 signature per item.
	SuiteECDSAP384 AlgorithmSuite = 0x6701
)

// String returns the AWS name of the suite.
func (s AlgorithmSuite) String() string {
	switch s {
	case SuiteSymmetricOnly:
		return "ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY_SYMSIG_HMAC_SHA384"
	case SuiteECDSAP384:
		return "ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384_SYMSIG_HMAC_SHA384"
	case SuiteDefault:
		return "default"
	}
	return fmt.Sprintf("AlgorithmSuite(0x%04x)", uint16(s))
}

// EncryptedDataKey is one encrypted data key (EDK) of an item header: the
// item's data key protected by one keyring (docs/dbesdk-format.md §6.2).
type EncryptedDataKey struct {
	ProviderID   string // the keyring kind or namespace, e.g. "aws-kms-hierarchy"
	ProviderInfo []byte // which key, in the keyring's own encoding
	Ciphertext   []byte // wrapped data key (48 bytes) ‖ the keyring's wrapping of its intermediate key
}

// KeyringMaterials are the materials a keyring completes
// (docs/dbesdk-format.md §8.1). On encrypt a keyring that finds no
// PlaintextDataKey generates one (it is the generator); every keyring
// appends one EDK and, at the same index, that EDK's symmetric signing key.
// On decrypt a keyring sets PlaintextDataKey and the one signing key of the
// EDK it decrypted; it must fail if PlaintextDataKey is already set.
type KeyringMaterials struct {
	// Suite is the algorithm suite of the item.
	Suite AlgorithmSuite
	// EncryptionContext is the full encryption context (docs/dbesdk-format.md
	// §4.5); keyrings bind it into their wrapping. Do not modify it.
	EncryptionContext map[string]string
	// RequiredEncryptionContextKeys are the context keys not stored in the
	// header (the reader reproduces them). Do not modify it: on decrypt it
	// may be shared by the items of a table.
	RequiredEncryptionContextKeys []string
	// PlaintextDataKey is the item's 32-byte data key.
	PlaintextDataKey []byte
	// EncryptedDataKeys are the EDKs written so far (encrypt only).
	EncryptedDataKeys []EncryptedDataKey
	// SymmetricSigningKeys holds one 32-byte key per EDK, in EDK order
	// (encrypt), or the key of the decrypted EDK (decrypt).
	SymmetricSigningKeys [][]byte
}

// Keyring protects the data keys of the AWS Database Encryption SDK format.
// Implementations are in package keyring.
type Keyring interface {
	// OnEncrypt adds an EDK (and its signing key) to m, generating the data
	// key first if m has none.
	OnEncrypt(ctx context.Context, m *KeyringMaterials) error
	// OnDecrypt sets m's data key and signing key from one of edks.
	OnDecrypt(ctx context.Context, m *KeyringMaterials, edks []EncryptedDataKey) error
}

// keyringMaterials adapts a Keyring onto the engine's materials interface.
type keyringMaterials struct{ k Keyring }

func (a keyringMaterials) EncryptMaterials(ctx context.Context, suite dbesdk.Suite, ec map[string]string, required []string) (*dbesdk.EncryptionMaterials, error) {
	m := &KeyringMaterials{Suite: AlgorithmSuite(suite), EncryptionContext: ec, RequiredEncryptionContextKeys: required}
	if err := a.k.OnEncrypt(ctx, m); err != nil {
		return nil, err
	}
	out := &dbesdk.EncryptionMaterials{PDK: m.PlaintextDataKey, MACKeys: m.SymmetricSigningKeys}
	for _, e := range m.EncryptedDataKeys {
		out.EDKs = append(out.EDKs, dbesdk.EDK(e))
	}
	return out, nil
}

func (a keyringMaterials) DecryptMaterials(ctx context.Context, suite dbesdk.Suite, ec map[string]string, required []string, edks []dbesdk.EDK) (dbesdk.DecryptionMaterials, error) {
	m := &KeyringMaterials{Suite: AlgorithmSuite(suite), EncryptionContext: ec, RequiredEncryptionContextKeys: required}
	// EncryptedDataKey and dbesdk.EDK have identical underlying types (the
	// conversion below compiles only then), so the header's EDKs are viewed
	// as the keyring's without a copy.
	_ = EncryptedDataKey(dbesdk.EDK{})
	in := unsafe.Slice((*EncryptedDataKey)(unsafe.Pointer(unsafe.SliceData(edks))), len(edks))
	if err := a.k.OnDecrypt(ctx, m, in); err != nil {
		return dbesdk.DecryptionMaterials{}, err
	}
	if m.PlaintextDataKey == nil || len(m.SymmetricSigningKeys) != 1 {
		return dbesdk.DecryptionMaterials{}, fmt.Errorf("%w: the keyring returned no data key", ErrWrongKey)
	}
	// m is the engine's own: its keys need no copy.
	return dbesdk.DecryptionMaterials{PDK: m.PlaintextDataKey, MACKey: m.SymmetricSigningKeys[0]}, nil
}
