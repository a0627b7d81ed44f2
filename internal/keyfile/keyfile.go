// Package keyfile reads key files in the layout of the legacy vectors'
// keys.json: a map from key name to {material, algorithm, encoding, type}
// (material is base64: RAW bytes for symmetric keys, DER for RSA keys —
// X.509 SubjectPublicKeyInfo for public, PKCS#8 for private) or {keyId}.
package keyfile

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ddbec/ddbec-go/internal/ddbjson"
)

// ErrKey reports a missing or unusable key. Messages name the key, never its
// material.
var ErrKey = errors.New("keyfile: unusable key")

// Key is one entry of a key file.
type Key struct {
	Name      string `json:"-"`
	Material  []byte `json:"material"`
	Algorithm string `json:"algorithm"`
	Encoding  string `json:"encoding"`
	Type      string `json:"type"`
	KeyID     string `json:"keyId"`
}

// Keys maps key names to keys.
type Keys map[string]*Key

// Load reads a key file.
func Load(path string) (Keys, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data)
}

// Parse parses the contents of a key file.
func Parse(data []byte) (Keys, error) {
	var raw map[string]struct {
		Material  string `json:"material"`
		Algorithm string `json:"algorithm"`
		Encoding  string `json:"encoding"`
		Type      string `json:"type"`
		KeyID     string `json:"keyId"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("keyfile: not a JSON object of keys")
	}
	keys := make(Keys, len(raw))
	for name, r := range raw {
		k := &Key{Name: name, Algorithm: r.Algorithm, Encoding: r.Encoding, Type: r.Type, KeyID: r.KeyID}
		if r.Material != "" {
			m, err := ddbjson.DecodeBase64(r.Material)
			if err != nil {
				return nil, fmt.Errorf("%w: key %q: material is not valid base64", ErrKey, name)
			}
			k.Material = m
		}
		keys[name] = k
	}
	return keys, nil
}

// Get returns the named key.
func (ks Keys) Get(name string) (*Key, error) {
	k, ok := ks[name]
	if !ok {
		return nil, fmt.Errorf("%w: no key named %q", ErrKey, name)
	}
	return k, nil
}

// IsSymmetric reports whether the key is raw symmetric material.
func (k *Key) IsSymmetric() bool { return k.Type == "symmetric" }

// IsAES reports whether the key is a raw AES key.
func (k *Key) IsAES() bool { return k.IsSymmetric() && strings.EqualFold(k.Algorithm, "AES") }

// IsRSA reports whether the key is an RSA key (public or private).
func (k *Key) IsRSA() bool { return k.Type == "public" || k.Type == "private" }

// AES returns the raw bytes of an AES key.
func (k *Key) AES() ([]byte, error) {
	if !k.IsAES() {
		return nil, fmt.Errorf("%w: key %q is not a symmetric AES key", ErrKey, k.Name)
	}
	switch len(k.Material) {
	case 16, 24, 32:
		return k.Material, nil
	}
	return nil, fmt.Errorf("%w: key %q: AES key must be 16, 24 or 32 bytes", ErrKey, k.Name)
}

// MAC returns the algorithm and raw bytes of a symmetric MAC key.
func (k *Key) MAC() (string, []byte, error) {
	if !k.IsSymmetric() || !strings.HasPrefix(k.Algorithm, "Hmac") {
		return "", nil, fmt.Errorf("%w: key %q is not a symmetric HMAC key", ErrKey, k.Name)
	}
	return k.Algorithm, k.Material, nil
}

// RSAPrivate parses a PKCS#8 RSA private key.
func (k *Key) RSAPrivate() (*rsa.PrivateKey, error) {
	if k.Type != "private" {
		return nil, fmt.Errorf("%w: key %q is not an RSA private key", ErrKey, k.Name)
	}
	p, err := x509.ParsePKCS8PrivateKey(k.Material)
	if err != nil {
		return nil, fmt.Errorf("%w: key %q: not a PKCS#8 private key", ErrKey, k.Name)
	}
	rk, ok := p.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: key %q is not an RSA key", ErrKey, k.Name)
	}
	return rk, nil
}

// RSAPublic parses an X.509 SubjectPublicKeyInfo RSA public key, or returns
// the public half of a private key.
func (k *Key) RSAPublic() (*rsa.PublicKey, error) {
	if k.Type == "private" {
		p, err := k.RSAPrivate()
		if err != nil {
			return nil, err
		}
		return &p.PublicKey, nil
	}
	if k.Type != "public" {
		return nil, fmt.Errorf("%w: key %q is not an RSA key", ErrKey, k.Name)
	}
	p, err := x509.ParsePKIXPublicKey(k.Material)
	if err != nil {
		return nil, fmt.Errorf("%w: key %q: not an X.509 public key", ErrKey, k.Name)
	}
	rk, ok := p.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: key %q is not an RSA key", ErrKey, k.Name)
	}
	return rk, nil
}

// SignatureAlgorithm returns the RSA signature algorithm a key names
// ("SHA256withRSA"), or "" when it names only "RSA".
func (k *Key) SignatureAlgorithm() string {
	if strings.HasSuffix(k.Algorithm, "withRSA") {
		return k.Algorithm
	}
	return ""
}
