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
	"sync"

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

// rawAESScratch holds the serialized encryption context and the
// intermediate key of one call; neither leaves it.
type rawAESScratch struct {
	ik  [dbesdk.KeyLen]byte
	aad []byte
}

var rawAESPool = sync.Pool{New: func() any { return &rawAESScratch{aad: make([]byte, 0, 512)} }}

func putRawAESScratch(sc *rawAESScratch) {
	clear(sc.ik[:])
	sc.aad = sc.aad[:0]
	rawAESPool.Put(sc)
}

// OnEncrypt implements ddbenc.Keyring.
func (k *RawAES) OnEncrypt(_ context.Context, m *ddbenc.KeyringMaterials) error {
	const kl = dbesdk.KeyLen
	// One buffer: [pdk if generated] ‖ mac ‖ provider info ‖ EDK ciphertext.
	infoLen := len(k.name) + 8 + aesIVLen
	ctLen := dbesdk.WrappedPDKLen + kl + 16
	gen := m.PlaintextDataKey == nil
	n := kl + infoLen + ctLen
	if gen {
		n += kl
	} else if err := ensurePDK(m); err != nil {
		return err
	}
	b := make([]byte, n)
	if gen {
		pdk := b[:kl:kl]
		if _, err := rand.Read(pdk); err != nil {
			return err
		}
		m.PlaintextDataKey = pdk
		b = b[kl:]
	}
	mac, info, ct := b[:kl:kl], b[kl:kl+infoLen:kl+infoLen], b[kl+infoLen:kl+infoLen:len(b)]
	sc := rawAESPool.Get().(*rawAESScratch)
	defer putRawAESScratch(sc)
	ik := sc.ik[:]
	if _, err := rand.Read(ik); err != nil {
		return err
	}
	sc.aad = dbesdk.AppendContext(sc.aad[:0], m.EncryptionContext)
	ct, err := dbesdk.SealWithIntermediate(ct, mac, ik, m.PlaintextDataKey, sc.aad)
	if err != nil {
		return err
	}
	copy(info, k.name)
	copy(info[len(k.name):], []byte{0, 0, 0, 128, 0, 0, 0, aesIVLen})
	iv := info[len(info)-aesIVLen:]
	if _, err := rand.Read(iv); err != nil {
		return err
	}
	ct = k.aead.Seal(ct, iv, ik, sc.aad)
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
	var sc *rawAESScratch
	defer func() {
		if sc != nil {
			putRawAESScratch(sc)
		}
	}()
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
		if sc == nil {
			sc = rawAESPool.Get().(*rawAESScratch)
			sc.aad = dbesdk.AppendContext(sc.aad[:0], m.EncryptionContext)
		}
		ik, err := k.aead.Open(sc.ik[:0], info[n+8:], e.Ciphertext[dbesdk.WrappedPDKLen:], sc.aad)
		if err != nil {
			errs = append(errs, errors.New("raw AES EDK does not open"))
			continue
		}
		// As finish does, with the data key, the signing key and the list
		// that holds it in one allocation.
		keys := new(struct {
			b    [2 * dbesdk.KeyLen]byte
			list [1][]byte
		})
		b := keys.b[:]
		pdk, err := dbesdk.OpenWithIntermediate(b[:0:dbesdk.KeyLen], b[dbesdk.KeyLen:], ik, e.Ciphertext[:dbesdk.WrappedPDKLen], sc.aad)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		keys.list[0] = b[dbesdk.KeyLen:]
		m.PlaintextDataKey = pdk
		m.SymmetricSigningKeys = keys.list[:]
		return nil
	}
	return noMatch("raw AES keyring", errs)
}
