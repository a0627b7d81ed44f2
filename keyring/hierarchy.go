package keyring

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/dbesdk"
)

// Hierarchical is the hierarchical keyring (docs/dbesdk-format.md §8.10):
// intermediate keys are wrapped under keys derived from a branch key, which a
// BranchKeySource supplies.
type Hierarchical struct {
	branchKeyID string              // fixed id, or ""
	supplier    BranchKeyIDSupplier // or nil
	source      BranchKeySource
}

// BranchKeyIDSupplier chooses the branch key of an item from its full
// encryption context (docs/dbesdk-format.md §8.10.3), e.g. one branch key per
// tenant of a multi-tenant table: the context holds the table name, the
// partition and sort key values and every SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT
// attribute (§4). It is called on encrypt and on decrypt with the same
// context, so it must answer the same id for both. It must be safe for
// concurrent use. An error fails the call (the item is not written or read).
type BranchKeyIDSupplier func(ctx context.Context, encryptionContext map[string]string) (string, error)

// NewHierarchical returns a hierarchical keyring for one branch key id.
func NewHierarchical(branchKeyID string, source BranchKeySource) (*Hierarchical, error) {
	if branchKeyID == "" || source == nil {
		return nil, fmt.Errorf("%w: a hierarchical keyring needs a branch key id and a branch key source", ddbenc.ErrInvalidConfig)
	}
	return &Hierarchical{branchKeyID: branchKeyID, source: source}, nil
}

// NewHierarchicalWithSupplier returns a hierarchical keyring whose branch key
// id is chosen per item by supplier, given the item's full encryption
// context, on encrypt and on decrypt.
func NewHierarchicalWithSupplier(supplier BranchKeyIDSupplier, source BranchKeySource) (*Hierarchical, error) {
	if supplier == nil || source == nil {
		return nil, fmt.Errorf("%w: a hierarchical keyring needs a branch key id supplier and a branch key source", ddbenc.ErrInvalidConfig)
	}
	return &Hierarchical{supplier: supplier, source: source}, nil
}

// idFor returns the branch key id for materials with context ec.
func (h *Hierarchical) idFor(ctx context.Context, ec map[string]string) (string, error) {
	if h.supplier == nil {
		return h.branchKeyID, nil
	}
	id, err := h.supplier(ctx, maps.Clone(ec))
	if err != nil {
		if ctx.Err() != nil {
			return "", err
		}
		return "", fmt.Errorf("%w: keyring: hierarchical keyring: the branch key id supplier failed: %w", ddbenc.ErrWrongKey, err)
	}
	if id == "" {
		return "", fmt.Errorf("%w: keyring: hierarchical keyring: the branch key id supplier returned an empty id", ddbenc.ErrInvalidConfig)
	}
	return id, nil
}

// EDK ciphertext layout after the wrapped data key (docs/dbesdk-format.md §8.10.1).
const (
	hSalt    = 16
	hIV      = 12
	hVersion = 16
	hRest    = hSalt + hIV + hVersion + dbesdk.KeyLen + 16 // 92
)

func versionBytes(v string) ([]byte, error) {
	b, err := hex.DecodeString(strings.ReplaceAll(v, "-", ""))
	if err != nil || len(b) != hVersion || len(v) != 36 {
		return nil, fmt.Errorf("%w: branch key version %q is not a UUID", ddbenc.ErrInvalidConfig, v)
	}
	return b, nil
}

func versionString(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func hierarchyAAD(id string, version []byte, ec map[string]string) []byte {
	aad := append([]byte(dbesdk.HierarchyProviderID), id...)
	aad = append(aad, version...)
	return append(aad, dbesdk.SerializeContext(ec)...)
}

func hierarchyGCM(branchKey, salt []byte) (cipher.AEAD, error) {
	if len(branchKey) != dbesdk.KeyLen {
		return nil, fmt.Errorf("%w: branch key must be %d bytes", ddbenc.ErrInvalidConfig, dbesdk.KeyLen)
	}
	b, err := aes.NewCipher(dbesdk.HierarchyDerivedKey(branchKey, salt))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// OnEncrypt implements ddbenc.Keyring.
func (h *Hierarchical) OnEncrypt(ctx context.Context, m *ddbenc.KeyringMaterials) error {
	id, err := h.idFor(ctx, m.EncryptionContext)
	if err != nil {
		return err
	}
	bk, err := h.source.ActiveBranchKey(ctx, id)
	if err != nil {
		return err
	}
	if bk.ID != id {
		return fmt.Errorf("%w: keyring: hierarchical keyring: the branch key source returned another branch key than the one asked for", ddbenc.ErrWrongKey)
	}
	ver, err := versionBytes(bk.Version)
	if err != nil {
		return err
	}
	ik, wrapped, mac, err := wrapNew(m)
	if err != nil {
		return err
	}
	salt := make([]byte, hSalt+hIV)
	if _, err := rand.Read(salt); err != nil {
		return err
	}
	iv := salt[hSalt:]
	salt = salt[:hSalt]
	g, err := hierarchyGCM(bk.Key, salt)
	if err != nil {
		return err
	}
	ct := append(wrapped, salt...)
	ct = append(ct, iv...)
	ct = append(ct, ver...)
	ct = g.Seal(ct, iv, ik, hierarchyAAD(id, ver, m.EncryptionContext))
	add(m, ddbenc.EncryptedDataKey{ProviderID: dbesdk.HierarchyProviderID, ProviderInfo: []byte(id), Ciphertext: ct}, mac)
	return nil
}

// OnDecrypt implements ddbenc.Keyring.
func (h *Hierarchical) OnDecrypt(ctx context.Context, m *ddbenc.KeyringMaterials, edks []ddbenc.EncryptedDataKey) error {
	if err := checkDecrypt(m); err != nil {
		return err
	}
	id, err := h.idFor(ctx, m.EncryptionContext)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range edks {
		if e.ProviderID != dbesdk.HierarchyProviderID || string(e.ProviderInfo) != id {
			continue
		}
		if len(e.Ciphertext) != dbesdk.WrappedPDKLen+hRest {
			errs = append(errs, errors.New("hierarchical EDK ciphertext has the wrong length"))
			continue
		}
		rest := e.Ciphertext[dbesdk.WrappedPDKLen:]
		salt, iv, ver, sealed := rest[:hSalt], rest[hSalt:hSalt+hIV], rest[hSalt+hIV:hSalt+hIV+hVersion], rest[hSalt+hIV+hVersion:]
		bk, err := h.source.BranchKeyVersion(ctx, id, versionString(ver))
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			errs = append(errs, err)
			continue
		}
		kver, err := versionBytes(bk.Version)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		g, err := hierarchyGCM(bk.Key, salt)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ik, err := g.Open(nil, iv, sealed, hierarchyAAD(id, kver, m.EncryptionContext))
		if err != nil {
			errs = append(errs, errors.New("hierarchical EDK does not open"))
			continue
		}
		if err := finish(m, ik, e.Ciphertext); err != nil {
			errs = append(errs, err)
			continue
		}
		return nil
	}
	return noMatch("hierarchical keyring", errs)
}
