package signing

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"sync"
)

// ErrInvalidSignature is returned by every Verifier when a signature does not
// match.
var ErrInvalidSignature = errors.New("signing: signature does not match")

// ErrInvalidKey reports a key or algorithm a signer cannot use.
var ErrInvalidKey = errors.New("signing: invalid key")

// Signer signs a string to sign.
type Signer interface {
	// Sign returns the signature of msg.
	Sign(msg []byte) ([]byte, error)
	// Algorithm is the value written to the material description entry
	// amzn-ddb-map-signingAlg: "HmacSHA256", "SHA256withRSA", ….
	Algorithm() string
}

// Verifier checks a signature over a string to sign.
type Verifier interface {
	// Verify returns nil if sig is a valid signature of msg. algorithm is the
	// item's amzn-ddb-map-signingAlg entry, possibly empty; RSA verifiers use
	// it to pick the hash (default SHA256withRSA, the Java client's rule), HMAC
	// verifiers ignore it and use their own algorithm.
	Verify(msg, sig []byte, algorithm string) error
}

// HMAC signs and verifies with a MAC key. It implements Signer and Verifier
// and is safe for concurrent use.
type HMAC struct {
	alg  string
	hash func() hash.Hash
	key  []byte
	pool sync.Pool // keyed hmac states, reset before use
}

var hmacHashes = map[string]func() hash.Hash{
	"HmacSHA256": sha256.New,
	"HmacSHA224": sha256.New224,
	"HmacSHA384": sha512.New384,
	"HmacSHA512": sha512.New,
}

// NewHMAC returns an HMAC signer for algorithm HmacSHA224, HmacSHA256,
// HmacSHA384 or HmacSHA512. Short keys are accepted (the legacy vectors use an
// 8-byte key); the key must not be empty. The key is copied.
func NewHMAC(algorithm string, key []byte) (*HMAC, error) {
	h, ok := hmacHashes[algorithm]
	if !ok {
		return nil, fmt.Errorf("%w: unsupported MAC algorithm %q", ErrInvalidKey, algorithm)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("%w: empty MAC key", ErrInvalidKey)
	}
	k := &HMAC{alg: algorithm, hash: h, key: append([]byte{}, key...)}
	k.pool.New = func() any { return hmac.New(k.hash, k.key) }
	return k, nil
}

func (k *HMAC) mac(msg []byte) []byte {
	m := k.pool.Get().(hash.Hash)
	m.Reset()
	m.Write(msg)
	sum := m.Sum(nil)
	k.pool.Put(m)
	return sum
}

// Algorithm returns the MAC algorithm name, e.g. "HmacSHA256".
func (k *HMAC) Algorithm() string { return k.alg }

// Sign returns the MAC of msg.
func (k *HMAC) Sign(msg []byte) ([]byte, error) {
	return k.mac(msg), nil
}

// Verify compares the MAC of msg with sig in constant time.
func (k *HMAC) Verify(msg, sig []byte, _ string) error {
	if !hmac.Equal(k.mac(msg), sig) {
		return ErrInvalidSignature
	}
	return nil
}

var rsaHashes = map[string]crypto.Hash{
	"SHA224withRSA": crypto.SHA224,
	"SHA256withRSA": crypto.SHA256,
	"SHA384withRSA": crypto.SHA384,
	"SHA512withRSA": crypto.SHA512,
}

// defaultRSAAlgorithm is used when no RSA signature algorithm is named:
// SHA256withRSA, as the legacy clients default to.
const defaultRSAAlgorithm = "SHA256withRSA"

func rsaHash(algorithm string) (crypto.Hash, error) {
	if algorithm == "" {
		algorithm = defaultRSAAlgorithm
	}
	h, ok := rsaHashes[algorithm]
	if !ok {
		return 0, fmt.Errorf("%w: unsupported RSA signature algorithm %q", ErrInvalidKey, algorithm)
	}
	return h, nil
}

func digest(h crypto.Hash, msg []byte) []byte {
	d := h.New()
	d.Write(msg)
	return d.Sum(nil)
}

// RSASigner signs with RSASSA-PKCS1-v1_5. It also verifies with the key's
// public half.
type RSASigner struct {
	key *rsa.PrivateKey
	alg string
	h   crypto.Hash
}

// NewRSASigner returns a signer for algorithm SHA224withRSA, SHA256withRSA,
// SHA384withRSA or SHA512withRSA ("" means SHA256withRSA).
func NewRSASigner(key *rsa.PrivateKey, algorithm string) (*RSASigner, error) {
	if key == nil {
		return nil, fmt.Errorf("%w: nil RSA key", ErrInvalidKey)
	}
	h, err := rsaHash(algorithm)
	if err != nil {
		return nil, err
	}
	if algorithm == "" {
		algorithm = defaultRSAAlgorithm
	}
	return &RSASigner{key: key, alg: algorithm, h: h}, nil
}

// Algorithm returns the signature algorithm, e.g. "SHA256withRSA".
func (s *RSASigner) Algorithm() string { return s.alg }

// Sign returns the RSASSA-PKCS1-v1_5 signature of msg.
func (s *RSASigner) Sign(msg []byte) ([]byte, error) {
	return rsa.SignPKCS1v15(rand.Reader, s.key, s.h, digest(s.h, msg))
}

// Verify checks sig with the public half of the signing key.
func (s *RSASigner) Verify(msg, sig []byte, algorithm string) error {
	return verifyRSA(&s.key.PublicKey, msg, sig, algorithm)
}

// RSAVerifier verifies RSASSA-PKCS1-v1_5 signatures.
type RSAVerifier struct{ key *rsa.PublicKey }

// NewRSAVerifier returns a verifier for an RSA public key.
func NewRSAVerifier(key *rsa.PublicKey) (*RSAVerifier, error) {
	if key == nil {
		return nil, fmt.Errorf("%w: nil RSA key", ErrInvalidKey)
	}
	return &RSAVerifier{key: key}, nil
}

// Verify checks sig; algorithm names the hash ("" means SHA256withRSA).
func (v *RSAVerifier) Verify(msg, sig []byte, algorithm string) error {
	return verifyRSA(v.key, msg, sig, algorithm)
}

func verifyRSA(pub *rsa.PublicKey, msg, sig []byte, algorithm string) error {
	h, err := rsaHash(algorithm)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSignature, err)
	}
	if rsa.VerifyPKCS1v15(pub, h, digest(h, msg), sig) != nil {
		return ErrInvalidSignature
	}
	return nil
}

var (
	_ Signer   = (*HMAC)(nil)
	_ Verifier = (*HMAC)(nil)
	_ Signer   = (*RSASigner)(nil)
	_ Verifier = (*RSASigner)(nil)
	_ Verifier = (*RSAVerifier)(nil)
)
