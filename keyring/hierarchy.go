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
	"sync"

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

// versionBytes parses a version UUID (canonical 8-4-4-4-12 form) into its
// 16 raw bytes.
func versionBytes(v string) ([hVersion]byte, error) {
	var b [hVersion]byte
	bad := func() ([hVersion]byte, error) {
		return b, fmt.Errorf("%w: branch key version %q is not a UUID", ddbenc.ErrInvalidConfig, v)
	}
	if len(v) != 36 || v[8] != '-' || v[13] != '-' || v[18] != '-' || v[23] != '-' {
		return bad()
	}
	var h [2 * hVersion]byte
	copy(h[0:8], v[0:8])
	copy(h[8:12], v[9:13])
	copy(h[12:16], v[14:18])
	copy(h[16:20], v[19:23])
	copy(h[20:32], v[24:36])
	if _, err := hex.Decode(b[:], h[:]); err != nil {
		return bad()
	}
	return b, nil
}

func versionString(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// hierarchyScratch is the per-call working memory of the hierarchical
// keyring, pooled: the AAD buffer and the derived wrapping key.
type hierarchyScratch struct {
	aad     []byte
	derived [dbesdk.KeyLen]byte
}

var hierarchyPool = sync.Pool{New: func() any { return &hierarchyScratch{aad: make([]byte, 0, 512)} }}

func putHierarchyScratch(sc *hierarchyScratch) {
	clear(sc.derived[:])
	sc.aad = sc.aad[:0]
	hierarchyPool.Put(sc)
}

// aad sets sc.aad to the wrapping AAD of §8.10.2: the provider id, the
// branch key id, the 16 version bytes and the keyring form of the context.
func (sc *hierarchyScratch) setAAD(id string, version []byte, ec map[string]string) []byte {
	sc.aad = append(sc.aad[:0], dbesdk.HierarchyProviderID...)
	sc.aad = append(sc.aad, id...)
	sc.aad = append(sc.aad, version...)
	sc.aad = dbesdk.AppendContext(sc.aad, ec)
	return sc.aad
}

// gcm returns AES-256-GCM under the key derived from branchKey and salt.
func (sc *hierarchyScratch) gcm(branchKey, salt []byte) (cipher.AEAD, error) {
	if len(branchKey) != dbesdk.KeyLen {
		return nil, fmt.Errorf("%w: branch key must be %d bytes", ddbenc.ErrInvalidConfig, dbesdk.KeyLen)
	}
	dbesdk.HierarchyDeriveKey(&sc.derived, branchKey, salt)
	b, err := aes.NewCipher(sc.derived[:])
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
	// The EDK ciphertext in one buffer: wrapped data key ‖ salt ‖ IV ‖
	// version ‖ sealed intermediate key and tag (§8.10.1).
	ct := make([]byte, 0, dbesdk.WrappedPDKLen+hRest)
	ct = append(ct, wrapped...)
	ct = ct[:dbesdk.WrappedPDKLen+hSalt+hIV]
	salt, iv := ct[dbesdk.WrappedPDKLen:dbesdk.WrappedPDKLen+hSalt], ct[dbesdk.WrappedPDKLen+hSalt:]
	if _, err := rand.Read(ct[dbesdk.WrappedPDKLen:]); err != nil {
		return err
	}
	ct = append(ct, ver[:]...)
	sc := hierarchyPool.Get().(*hierarchyScratch)
	defer putHierarchyScratch(sc)
	g, err := sc.gcm(bk.Key, salt)
	if err != nil {
		return err
	}
	ct = g.Seal(ct, iv, ik, sc.setAAD(id, ver[:], m.EncryptionContext))
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
	sc := hierarchyPool.Get().(*hierarchyScratch)
	defer putHierarchyScratch(sc)
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
		g, err := sc.gcm(bk.Key, salt)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ik, err := g.Open(nil, iv, sealed, sc.setAAD(id, kver[:], m.EncryptionContext))
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
