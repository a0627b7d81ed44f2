package provider

import (
	"cmp"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // MGF1-SHA1 and OAEP label hashes are looked up by crypto.Hash
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/base64"
	"fmt"
	"maps"
	"strings"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/keywrap"
	"github.com/ddbec/ddbec-go/internal/legacy"
	"github.com/ddbec/ddbec-go/signing"
)

// Wrapping transformations (values of WrappedOptions.WrapAlgorithm, written
// to amzn-ddb-wrap-alg).
const (
	AESWrap    = "AESWrap"
	RSAOAEP256 = "RSA/ECB/OAEPWithSHA-256AndMGF1Padding"
)

// WrappingKey protects per-item content keys: an AES key-encryption key
// (RFC 3394 key wrap) or an RSA key pair (RSA-OAEP).
type WrappingKey struct {
	kek  []byte
	pub  *rsa.PublicKey
	priv *rsa.PrivateKey
}

// AESWrappingKey returns a wrapping key for AES key wrap with a 16-, 24- or
// 32-byte key-encryption key (used to wrap and to unwrap).
func AESWrappingKey(kek []byte) (*WrappingKey, error) {
	if !legacy.ValidAESKey(kek) {
		return nil, fmt.Errorf("%w: provider: AES key-encryption key must be 16, 24 or 32 bytes", ddbenc.ErrInvalidConfig)
	}
	return &WrappingKey{kek: cloneBytes(kek)}, nil
}

// RSAWrappingKey returns a wrapping key for RSA: pub wraps, priv unwraps. One
// of them may be nil (a write-only or read-only provider); pub defaults to
// priv's public key.
func RSAWrappingKey(pub *rsa.PublicKey, priv *rsa.PrivateKey) (*WrappingKey, error) {
	if pub == nil && priv == nil {
		return nil, fmt.Errorf("%w: provider: an RSA public or private key is required", ddbenc.ErrInvalidConfig)
	}
	if pub == nil {
		pub = &priv.PublicKey
	}
	return &WrappingKey{pub: pub, priv: priv}, nil
}

func (k *WrappingKey) defaultTransformation() string {
	if k.kek != nil {
		return AESWrap
	}
	return RSAOAEP256
}

// oaepHashes maps the OAEP transformations the legacy clients accept to the
// label hash; MGF1 always uses SHA-1 (what Java's SunJCE does for these names).
var oaepHashes = map[string]crypto.Hash{
	"RSA/ECB/OAEPPadding":                   crypto.SHA1,
	"RSA/ECB/OAEPWithSHA-1AndMGF1Padding":   crypto.SHA1,
	"RSA/ECB/OAEPWithSHA1AndMGF1Padding":    crypto.SHA1,
	"RSA/ECB/OAEPWithSHA-256AndMGF1Padding": crypto.SHA256,
	"RSA/ECB/OAEPWithSHA-384AndMGF1Padding": crypto.SHA384,
	"RSA/ECB/OAEPWithSHA-512AndMGF1Padding": crypto.SHA512,
}

func isPKCS1(transformation string) bool {
	return transformation == "RSA" || transformation == "RSA/ECB/PKCS1Padding"
}

func (k *WrappingKey) wrap(contentKey []byte, transformation string) ([]byte, error) {
	switch h, oaep := oaepHashes[transformation]; {
	case transformation == AESWrap && k.kek != nil:
		return keywrap.Wrap(k.kek, contentKey)
	case oaep && k.pub != nil:
		return rsa.EncryptOAEPWithOptions(rand.Reader, k.pub, contentKey, &rsa.OAEPOptions{Hash: h, MGFHash: crypto.SHA1})
	}
	return nil, fmt.Errorf("%w: provider: cannot wrap with %q using this wrapping key", ddbenc.ErrInvalidConfig, transformation)
}

// unwrap recovers a content key of keyLen bytes.
func (k *WrappingKey) unwrap(wrapped []byte, transformation string, keyLen int) ([]byte, error) {
	h, oaep := oaepHashes[transformation]
	switch {
	case transformation == AESWrap && k.kek != nil:
		ck, err := keywrap.Unwrap(k.kek, wrapped)
		if err != nil {
			return nil, fmt.Errorf("%w: provider: AES key unwrap failed", ddbenc.ErrDecryption)
		}
		return ck, nil
	case oaep && k.priv != nil:
		ck, err := k.priv.Decrypt(nil, wrapped, &rsa.OAEPOptions{Hash: h, MGFHash: crypto.SHA1})
		if err != nil {
			return nil, fmt.Errorf("%w: provider: RSA-OAEP unwrap failed", ddbenc.ErrDecryption)
		}
		return ck, nil
	case isPKCS1(transformation) && k.priv != nil:
		// Session-key decryption: on a padding error a random key comes back
		// and the item fails later exactly like a wrong key would, so that
		// PKCS#1 v1.5 padding is no oracle.
		ck := make([]byte, keyLen)
		if _, err := rand.Read(ck); err != nil {
			return nil, err
		}
		if err := rsa.DecryptPKCS1v15SessionKey(nil, k.priv, wrapped, ck); err != nil {
			return nil, fmt.Errorf("%w: provider: RSA unwrap failed", ddbenc.ErrDecryption)
		}
		return ck, nil
	case transformation == AESWrap || oaep || isPKCS1(transformation):
		return nil, fmt.Errorf("%w: provider: item's key is wrapped with %q, which the configured unwrapping key cannot unwrap", ddbenc.ErrWrongKey, transformation)
	}
	return nil, fmt.Errorf("%w: provider: unsupported wrapping algorithm %q", ddbenc.ErrMalformed, transformation)
}

// WrappedOptions are the optional settings of NewWrapped.
type WrappedOptions struct {
	// ContentKeyAlgorithm is the content key descriptor, written to
	// amzn-ddb-env-alg as given: "AES/128", "AES/192" or "AES/256". When
	// unset, content keys are AES-256 and the entry is written as "AES", as
	// the Java client does.
	ContentKeyAlgorithm string
	// WrapAlgorithm is the wrapping transformation, written to
	// amzn-ddb-wrap-alg: AESWrap (the default for an AES key) or an RSA-OAEP
	// transformation such as RSAOAEP256 (the default for an RSA key).
	WrapAlgorithm string
	// MaterialDescription holds extra entries for every item's description.
	// It cannot hold amzn-ddb-env-alg or amzn-ddb-wrap-alg (set
	// ContentKeyAlgorithm and WrapAlgorithm instead) nor the entries the
	// provider or the encryptor write.
	MaterialDescription map[string]string
}

// Wrapped is the envelope provider (Java WrappedMaterialsProvider, Python
// WrappedCryptographicMaterialsProvider): a fresh AES-256 content key per item,
// wrapped with the wrapping key and stored in the item's material description.
type Wrapped struct {
	key      *WrappingKey
	signer   signing.Signer
	verifier signing.Verifier
	desc     map[string]string
	keyBits  int
	transfo  string
}

// NewWrapped returns a wrapped provider. signer may be nil for a read-only
// provider and verifier nil for a write-only one; when verifier is nil and
// signer can verify, signer verifies.
func NewWrapped(key *WrappingKey, signer signing.Signer, verifier signing.Verifier, optFns ...func(*WrappedOptions)) (*Wrapped, error) {
	var opts WrappedOptions
	for _, fn := range optFns {
		fn(&opts)
	}
	if key == nil {
		return nil, fmt.Errorf("%w: provider: a wrapping key is required", ddbenc.ErrInvalidConfig)
	}
	if verifier == nil {
		verifier, _ = signer.(signing.Verifier)
	}
	if signer == nil && verifier == nil {
		return nil, fmt.Errorf("%w: provider: a signing or verification key is required", ddbenc.ErrInvalidConfig)
	}
	for _, typed := range [...]struct{ entry, field string }{{legacy.ContentKeyAlg, "ContentKeyAlgorithm"}, {legacy.WrapAlgorithm, "WrapAlgorithm"}} {
		if _, ok := opts.MaterialDescription[typed.entry]; ok {
			return nil, fmt.Errorf("%w: provider: material description entry %q is set with WrappedOptions.%s, not in MaterialDescription", ddbenc.ErrInvalidConfig, typed.entry, typed.field)
		}
	}
	w := &Wrapped{key: key, signer: signer, verifier: verifier, desc: maps.Clone(opts.MaterialDescription), keyBits: 256}
	if w.desc == nil {
		w.desc = map[string]string{}
	}
	if d := opts.ContentKeyAlgorithm; d != "" {
		bits, err := legacy.ContentKeyBits(d)
		if err != nil {
			return nil, fmt.Errorf("%w: provider: unsupported content key algorithm %q", ddbenc.ErrInvalidConfig, d)
		}
		w.keyBits = bits
		w.desc[legacy.ContentKeyAlg] = d
	}
	w.transfo = cmp.Or(opts.WrapAlgorithm, key.defaultTransformation())
	if k, ok := legacy.EncryptorEntry(w.desc); ok {
		return nil, fmt.Errorf("%w: provider: material description entry %q is written by the encryptor and cannot be configured", ddbenc.ErrInvalidConfig, k)
	}
	if _, ok := w.desc[legacy.EnvelopeKey]; ok {
		return nil, fmt.Errorf("%w: provider: material description entry %q is written by the provider and cannot be configured", ddbenc.ErrInvalidConfig, legacy.EnvelopeKey)
	}
	if signer != nil {
		if _, err := key.wrap(make([]byte, w.keyBits/8), w.transfo); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// NewAsymmetricStatic returns the Java client's AsymmetricStaticProvider: a
// wrapped provider whose content keys are wrapped with an RSA key pair
// (RSA-OAEP), signing with signer (HMAC or RSA).
func NewAsymmetricStatic(encryptionKey *rsa.PrivateKey, signer signing.Signer, verifier signing.Verifier, optFns ...func(*WrappedOptions)) (*Wrapped, error) {
	if encryptionKey == nil {
		return nil, fmt.Errorf("%w: provider: an RSA key pair is required", ddbenc.ErrInvalidConfig)
	}
	k, err := RSAWrappingKey(nil, encryptionKey)
	if err != nil {
		return nil, err
	}
	return NewWrapped(k, signer, verifier, optFns...)
}

// EncryptionMaterials generates a content key and wraps it.
func (w *Wrapped) EncryptionMaterials(_ context.Context, _ ddbenc.EncryptionContext) (*ddbenc.EncryptionMaterials, error) {
	if w.signer == nil {
		return nil, fmt.Errorf("%w: provider: no signing key configured", ddbenc.ErrInvalidConfig)
	}
	ck := make([]byte, w.keyBits/8)
	if _, err := rand.Read(ck); err != nil {
		return nil, err
	}
	wrapped, err := w.key.wrap(ck, w.transfo)
	if err != nil {
		return nil, err
	}
	desc := maps.Clone(w.desc)
	if _, ok := desc[legacy.ContentKeyAlg]; !ok {
		desc[legacy.ContentKeyAlg] = "AES"
	}
	desc[legacy.WrapAlgorithm] = w.transfo
	desc[legacy.EnvelopeKey] = base64.StdEncoding.EncodeToString(wrapped)
	return &ddbenc.EncryptionMaterials{EncryptionKey: ck, Signer: w.signer, MaterialDescription: desc}, nil
}

// DecryptionMaterials unwraps the item's content key.
func (w *Wrapped) DecryptionMaterials(_ context.Context, ec ddbenc.EncryptionContext) (*ddbenc.DecryptionMaterials, error) {
	if w.verifier == nil {
		return nil, fmt.Errorf("%w: provider: no verification key configured", ddbenc.ErrInvalidConfig)
	}
	d := ec.MaterialDescription
	envKey, ok := d[legacy.EnvelopeKey]
	if !ok {
		return nil, fmt.Errorf("%w: provider: item has no wrapped key (not written by a wrapped provider)", ddbenc.ErrWrongKey)
	}
	if d[legacy.WrapAlgorithm] == "kms" {
		return nil, fmt.Errorf("%w: provider: item's key is protected by KMS, not by a wrapping key", ddbenc.ErrWrongKey)
	}
	wrapped, err := legacy.DecodeEnvelopeKey(envKey)
	if err != nil || len(wrapped) == 0 {
		return nil, fmt.Errorf("%w: provider: wrapped key is not valid base64", ddbenc.ErrMalformed)
	}
	bits, err := legacy.ContentKeyBits(cmp.Or(d[legacy.ContentKeyAlg], "AES"))
	if err != nil {
		return nil, fmt.Errorf("%w: provider: unsupported content key algorithm", ddbenc.ErrMalformed)
	}
	transformation, named := d[legacy.WrapAlgorithm]
	if !named {
		// Old Java items: the unwrapping key's algorithm names the
		// transformation; "RSA" is PKCS#1 v1.5.
		if w.key.kek != nil {
			return nil, fmt.Errorf("%w: provider: item names no wrapping algorithm", ddbenc.ErrMalformed)
		}
		transformation = "RSA"
	} else if isPKCS1(transformation) {
		return nil, fmt.Errorf("%w: provider: RSA PKCS#1 v1.5 key wrapping is accepted only from items that name no wrapping algorithm", ddbenc.ErrMalformed)
	}
	ck, err := w.key.unwrap(wrapped, transformation, bits/8)
	if err != nil {
		return nil, err
	}
	if len(ck) != bits/8 && (strings.Contains(d[legacy.ContentKeyAlg], "/") || !legacy.ValidAESKey(ck)) {
		return nil, fmt.Errorf("%w: provider: unwrapped content key has the wrong length", ddbenc.ErrDecryption)
	}
	return &ddbenc.DecryptionMaterials{DecryptionKey: ck, Verifier: w.verifier}, nil
}

var _ ddbenc.MaterialsProvider = (*Wrapped)(nil)
