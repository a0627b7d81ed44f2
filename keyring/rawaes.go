package keyring

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/dbesdk"
)

// RawAES is the raw AES keyring (docs/dbesdk-format.md §8.4): intermediate
// keys are wrapped with AES-GCM under a local 128-, 192- or 256-bit key.
type RawAES struct {
	namespace, name string
	aead            cipher.AEAD
}

// NewRawAES returns a raw AES keyring. namespace (the EDK provider id, not
// "aws-kms") and name identify the wrapping key; key is 16, 24 or 32 bytes.
func NewRawAES(namespace, name string, key []byte) (*RawAES, error) {
	if namespace == "" || namespace == reservedProviderID || name == "" {
		return nil, fmt.Errorf("%w: a raw AES keyring needs a key namespace other than %q and a key name", ddbenc.ErrInvalidConfig, reservedProviderID)
	}
	switch len(key) {
	case 16, 24, 32:
	default:
		return nil, fmt.Errorf("%w: a raw AES wrapping key must be 16, 24 or 32 bytes", ddbenc.ErrInvalidConfig)
	}
	b, err := aes.NewCipher(slices.Clone(key))
	if err != nil {
		return nil, err
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	return &RawAES{namespace: namespace, name: name, aead: g}, nil
}

const aesIVLen = 12

// OnEncrypt implements ddbenc.Keyring.
func (k *RawAES) OnEncrypt(_ context.Context, m *ddbenc.KeyringMaterials) error {
	ik, wrapped, mac, err := wrapNew(m)
	if err != nil {
		return err
	}
	iv := make([]byte, aesIVLen)
	if _, err := rand.Read(iv); err != nil {
		return err
	}
	info := append([]byte(k.name), 0, 0, 0, 128, 0, 0, 0, aesIVLen)
	info = append(info, iv...)
	ct := k.aead.Seal(wrapped, iv, ik, dbesdk.SerializeContext(m.EncryptionContext))
	add(m, ddbenc.EncryptedDataKey{ProviderID: k.namespace, ProviderInfo: info, Ciphertext: ct}, mac)
	return nil
}

// OnDecrypt implements ddbenc.Keyring.
func (k *RawAES) OnDecrypt(_ context.Context, m *ddbenc.KeyringMaterials, edks []ddbenc.EncryptedDataKey) error {
	if err := checkDecrypt(m); err != nil {
		return err
	}
	var errs []error
	n := len(k.name)
	for _, e := range edks {
		info := e.ProviderInfo
		if e.ProviderID != k.namespace || len(info) != n+8+aesIVLen || string(info[:n]) != k.name ||
			binary.BigEndian.Uint32(info[n:]) != 128 || binary.BigEndian.Uint32(info[n+4:]) != aesIVLen {
			continue
		}
		if len(e.Ciphertext) != dbesdk.WrappedPDKLen+dbesdk.KeyLen+16 {
			errs = append(errs, errors.New("raw AES EDK ciphertext has the wrong length"))
			continue
		}
		ik, err := k.aead.Open(nil, info[n+8:], e.Ciphertext[dbesdk.WrappedPDKLen:], dbesdk.SerializeContext(m.EncryptionContext))
		if err != nil {
			errs = append(errs, errors.New("raw AES EDK does not open"))
			continue
		}
		if err := finish(m, ik, e.Ciphertext); err != nil {
			errs = append(errs, err)
			continue
		}
		return nil
	}
	return noMatch("raw AES keyring", errs)
}
