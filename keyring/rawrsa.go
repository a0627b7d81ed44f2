package keyring

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/dbesdk"
)

// RSAPadding is the padding of a raw RSA keyring (docs/dbesdk-format.md §8.5).
type RSAPadding uint8

const (
	// PKCS1 is RSAES-PKCS1-v1_5.
	PKCS1 RSAPadding = iota + 1
	// OAEPSHA1 is OAEP with SHA-1 for the label and MGF1.
	OAEPSHA1
	// OAEPSHA256 is OAEP with SHA-256 for the label and MGF1.
	OAEPSHA256
	// OAEPSHA384 is OAEP with SHA-384 for the label and MGF1.
	OAEPSHA384
	// OAEPSHA512 is OAEP with SHA-512 for the label and MGF1.
	OAEPSHA512
)

func (p RSAPadding) hash() (func() hash.Hash, bool) {
	switch p {
	case OAEPSHA1:
		return sha1.New, true
	case OAEPSHA256:
		return sha256.New, true
	case OAEPSHA384:
		return sha512.New384, true
	case OAEPSHA512:
		return sha512.New, true
	}
	return nil, false
}

// RawRSA is the raw RSA keyring (docs/dbesdk-format.md §8.5): intermediate
// keys are encrypted to an RSA public key. A keyring with only a public key
// can encrypt; decrypting needs the private key.
type RawRSA struct {
	namespace, name string
	pub             *rsa.PublicKey
	priv            *rsa.PrivateKey
	padding         RSAPadding
}

// NewRawRSA returns a raw RSA keyring. pub may be nil when priv is given
// (its public half is used); priv may be nil for an encrypt-only keyring.
func NewRawRSA(namespace, name string, pub *rsa.PublicKey, priv *rsa.PrivateKey, padding RSAPadding) (*RawRSA, error) {
	if namespace == "" || namespace == reservedProviderID || name == "" {
		return nil, fmt.Errorf("%w: a raw RSA keyring needs a key namespace other than %q and a key name", ddbenc.ErrInvalidConfig, reservedProviderID)
	}
	if _, oaep := padding.hash(); !oaep && padding != PKCS1 {
		return nil, fmt.Errorf("%w: unknown RSA padding", ddbenc.ErrInvalidConfig)
	}
	if pub == nil && priv != nil {
		pub = &priv.PublicKey
	}
	if pub == nil {
		return nil, fmt.Errorf("%w: a raw RSA keyring needs a key", ddbenc.ErrInvalidConfig)
	}
	return &RawRSA{namespace: namespace, name: name, pub: pub, priv: priv, padding: padding}, nil
}

// ParseRSAPublicKeyPEM parses a PEM SubjectPublicKeyInfo RSA public key.
func ParseRSAPublicKeyPEM(data []byte) (*rsa.PublicKey, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("%w: no PEM block", ddbenc.ErrInvalidConfig)
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ddbenc.ErrInvalidConfig, err)
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: not an RSA public key", ddbenc.ErrInvalidConfig)
	}
	return rk, nil
}

// ParseRSAPrivateKeyPEM parses a PEM PKCS #8 (or PKCS #1) RSA private key.
func ParseRSAPrivateKeyPEM(data []byte) (*rsa.PrivateKey, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("%w: no PEM block", ddbenc.ErrInvalidConfig)
	}
	if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ddbenc.ErrInvalidConfig, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: not an RSA private key", ddbenc.ErrInvalidConfig)
	}
	return rk, nil
}

// OnEncrypt implements ddbenc.Keyring.
func (k *RawRSA) OnEncrypt(_ context.Context, m *ddbenc.KeyringMaterials) error {
	ik, wrapped, mac, err := wrapNew(m)
	if err != nil {
		return err
	}
	var ct []byte
	if h, oaep := k.padding.hash(); oaep {
		ct, err = rsa.EncryptOAEP(h(), rand.Reader, k.pub, ik, nil)
	} else {
		ct, err = rsa.EncryptPKCS1v15(rand.Reader, k.pub, ik)
	}
	if err != nil {
		return fmt.Errorf("%w: RSA encryption: %w", ddbenc.ErrInvalidConfig, err)
	}
	add(m, ddbenc.EncryptedDataKey{ProviderID: k.namespace, ProviderInfo: []byte(k.name), Ciphertext: append(wrapped, ct...)}, mac)
	return nil
}

// OnDecrypt implements ddbenc.Keyring.
func (k *RawRSA) OnDecrypt(_ context.Context, m *ddbenc.KeyringMaterials, edks []ddbenc.EncryptedDataKey) error {
	if err := checkDecrypt(m); err != nil {
		return err
	}
	if k.priv == nil {
		return fmt.Errorf("%w: this raw RSA keyring has no private key", ddbenc.ErrInvalidConfig)
	}
	var errs []error
	for _, e := range edks {
		if e.ProviderID != k.namespace || string(e.ProviderInfo) != k.name || len(e.Ciphertext) <= dbesdk.WrappedPDKLen {
			continue
		}
		var ik []byte
		var err error
		if h, oaep := k.padding.hash(); oaep {
			ik, err = rsa.DecryptOAEP(h(), nil, k.priv, e.Ciphertext[dbesdk.WrappedPDKLen:], nil)
		} else {
			ik, err = k.priv.Decrypt(nil, e.Ciphertext[dbesdk.WrappedPDKLen:], &rsa.PKCS1v15DecryptOptions{})
		}
		if err != nil {
			errs = append(errs, errors.New("raw RSA EDK does not decrypt"))
			continue
		}
		if err := finish(m, ik, e.Ciphertext); err != nil {
			errs = append(errs, err)
			continue
		}
		return nil
	}
	return noMatch("raw RSA keyring", errs)
}
