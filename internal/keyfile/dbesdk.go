package keyfile

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/ddbjson"
	"github.com/ddbec/ddbec-go/internal/testvectors"
	"github.com/ddbec/ddbec-go/keyring"
)

// MPLKey is one entry of an AWS Material Providers Library key manifest
// (testdata/vectors/dbesdk/keys.json: {"manifest": {"type": "keys"},
// "keys": {NAME: {...}}}). Only the members the raw keyrings use are read;
// other entry types (static materials, branch keys, KMS, ECDH) load but are
// refused by AES and RSA.
type MPLKey struct {
	Name      string `json:"-"`
	Type      string `json:"type"` // "symmetric", "private", "public", "aws-kms", ...
	KeyID     string `json:"key-id"`
	Algorithm string `json:"algorithm"` // "aes", "rsa", ...
	Bits      int    `json:"bits"`
	Encoding  string `json:"encoding"` // "base64" or "pem"
	Material  string `json:"material"`
	Encrypt   *bool  `json:"encrypt"`
	Decrypt   *bool  `json:"decrypt"`
	// BranchKey (base64) and BranchKeyVersion: a "static-branch-key" entry.
	BranchKey        string `json:"branchKey"`
	BranchKeyVersion string `json:"branchKeyVersion"`
}

// MPLKeys maps entry names to entries.
type MPLKeys map[string]*MPLKey

// LoadMPL reads an MPL key manifest.
func LoadMPL(path string) (MPLKeys, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseMPL(data)
}

// ParseMPL parses the contents of an MPL key manifest.
func ParseMPL(data []byte) (MPLKeys, error) {
	var f struct {
		Manifest struct {
			Type string `json:"type"`
		} `json:"manifest"`
		Keys map[string]*MPLKey `json:"keys"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("keyfile: not an MPL key manifest ({\"manifest\": {\"type\": \"keys\"}, \"keys\": {...}})")
	}
	if f.Manifest.Type != "keys" || f.Keys == nil {
		return nil, fmt.Errorf("keyfile: not an MPL key manifest (want \"manifest\": {\"type\": \"keys\"} and a \"keys\" object)")
	}
	for name, k := range f.Keys {
		if k == nil {
			return nil, fmt.Errorf("%w: entry %q is null", ErrKey, name)
		}
		k.Name = name
	}
	return MPLKeys(f.Keys), nil
}

// Get returns the named entry.
func (ks MPLKeys) Get(name string) (*MPLKey, error) {
	k, ok := ks[name]
	if !ok {
		return nil, fmt.Errorf("%w: no entry named %q", ErrKey, name)
	}
	return k, nil
}

// CanEncrypt and CanDecrypt report the entry's "encrypt" and "decrypt"
// members (absent counts as allowed).
func (k *MPLKey) CanEncrypt() bool { return k.Encrypt == nil || *k.Encrypt }

// CanDecrypt: see CanEncrypt.
func (k *MPLKey) CanDecrypt() bool { return k.Decrypt == nil || *k.Decrypt }

// AES returns the raw bytes of a symmetric AES entry (base64 material).
func (k *MPLKey) AES() ([]byte, error) {
	if k.Type != "symmetric" || !strings.EqualFold(k.Algorithm, "aes") {
		return nil, fmt.Errorf("%w: entry %q is not a symmetric AES key (type %q, algorithm %q)", ErrKey, k.Name, k.Type, k.Algorithm)
	}
	if k.Encoding != "base64" {
		return nil, fmt.Errorf("%w: entry %q: AES material must be base64 encoded, not %q", ErrKey, k.Name, k.Encoding)
	}
	m, err := ddbjson.DecodeBase64(k.Material)
	if err != nil {
		return nil, fmt.Errorf("%w: entry %q: material is not valid base64", ErrKey, k.Name)
	}
	switch len(m) {
	case 16, 24, 32:
	default:
		return nil, fmt.Errorf("%w: entry %q: AES key must be 16, 24 or 32 bytes", ErrKey, k.Name)
	}
	if k.Bits != 0 && k.Bits != 8*len(m) {
		return nil, fmt.Errorf("%w: entry %q: material is %d bits, the entry says %d", ErrKey, k.Name, 8*len(m), k.Bits)
	}
	return m, nil
}

// IsRSA reports whether the entry is a raw RSA key (private or public).
func (k *MPLKey) IsRSA() bool {
	return strings.EqualFold(k.Algorithm, "rsa") && (k.Type == "private" || k.Type == "public")
}

// RSA returns the key of an RSA entry (PEM material): a private entry gives
// both halves, a public entry only the public key (priv is nil).
func (k *MPLKey) RSA() (pub *rsa.PublicKey, priv *rsa.PrivateKey, err error) {
	if !k.IsRSA() {
		return nil, nil, fmt.Errorf("%w: entry %q is not a raw RSA key (type %q, algorithm %q)", ErrKey, k.Name, k.Type, k.Algorithm)
	}
	if k.Encoding != "pem" {
		return nil, nil, fmt.Errorf("%w: entry %q: RSA material must be PEM encoded, not %q", ErrKey, k.Name, k.Encoding)
	}
	// The keyring package's parse errors describe the structure only.
	if k.Type == "private" {
		if priv, err = keyring.ParseRSAPrivateKeyPEM([]byte(k.Material)); err != nil {
			return nil, nil, fmt.Errorf("%w: entry %q: not a PEM RSA private key", ErrKey, k.Name)
		}
		pub = &priv.PublicKey
	} else if pub, err = keyring.ParseRSAPublicKeyPEM([]byte(k.Material)); err != nil {
		return nil, nil, fmt.Errorf("%w: entry %q: not a PEM RSA public key", ErrKey, k.Name)
	}
	if k.Bits != 0 && k.Bits != pub.N.BitLen() {
		return nil, nil, fmt.Errorf("%w: entry %q: key is %d bits, the entry says %d", ErrKey, k.Name, pub.N.BitLen(), k.Bits)
	}
	return pub, priv, nil
}

// StaticBranchKey returns the branch key of a "static-branch-key" entry; its
// id is the entry's key-id.
func (k *MPLKey) StaticBranchKey() (keyring.BranchKey, error) {
	if k.Type != "static-branch-key" {
		return keyring.BranchKey{}, fmt.Errorf("%w: entry %q is not a static branch key (type %q)", ErrKey, k.Name, k.Type)
	}
	bk, err := ddbjson.DecodeBase64(k.BranchKey)
	if err != nil {
		return keyring.BranchKey{}, fmt.Errorf("%w: entry %q: branch key is not valid base64", ErrKey, k.Name)
	}
	return keyring.BranchKey{ID: k.KeyID, Version: k.BranchKeyVersion, Key: bk}, nil
}

// DefaultBranchKey is the entry the DB-ESDK vectors' default keyring uses
// (docs/dbesdk-format.md §12.3).
const DefaultBranchKey = "static-branch-key-1"

// keyDescription is an MPL test-vector key description
// (testdata/vectors/dbesdk/generated/README.md, "config.key").
type keyDescription struct {
	Type          string            `json:"type"`
	Algorithm     string            `json:"encryption-algorithm"`
	ProviderID    string            `json:"provider-id"`
	Key           string            `json:"key"`
	Padding       string            `json:"padding-algorithm"`
	PaddingHash   string            `json:"padding-hash"`
	Generator     json.RawMessage   `json:"generator"`
	ChildKeyrings []json.RawMessage `json:"childKeyrings"`
}

// DBESDKKeyring builds the keyring a DB-ESDK vector's config.key describes
// over the entries of keys; absent (empty or null) means the hierarchical
// keyring over DefaultBranchKey. Raw AES and RSA keyrings are named by the
// entry's key-id in the description's provider-id namespace.
func DBESDKKeyring(raw json.RawMessage, keys MPLKeys) (ddbenc.Keyring, error) {
	d := keyDescription{Type: "aws-kms-hierarchy", Key: DefaultBranchKey}
	if len(raw) > 0 && string(raw) != "null" {
		d = keyDescription{}
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, fmt.Errorf("keyfile: key description: %w", err)
		}
	}
	if d.Type == "multi-keyring" {
		var gen ddbenc.Keyring
		if len(d.Generator) > 0 && string(d.Generator) != "null" {
			g, err := DBESDKKeyring(d.Generator, keys)
			if err != nil {
				return nil, err
			}
			gen = g
		}
		var children []ddbenc.Keyring
		for _, c := range d.ChildKeyrings {
			k, err := DBESDKKeyring(c, keys)
			if err != nil {
				return nil, err
			}
			children = append(children, k)
		}
		return keyring.NewMulti(gen, children...)
	}
	k, err := keys.Get(d.Key)
	if err != nil {
		return nil, err
	}
	switch {
	case d.Type == "aws-kms-hierarchy":
		bk, err := k.StaticBranchKey()
		if err != nil {
			return nil, err
		}
		return keyring.NewHierarchical(bk.ID, keyring.NewStaticBranchKeys(bk))
	case d.Type == "raw" && d.Algorithm == "aes":
		m, err := k.AES()
		if err != nil {
			return nil, err
		}
		return keyring.NewRawAES(d.ProviderID, k.KeyID, m)
	case d.Type == "raw" && d.Algorithm == "rsa":
		pad, ok := map[string]keyring.RSAPadding{"sha1": keyring.OAEPSHA1, "sha256": keyring.OAEPSHA256, "sha384": keyring.OAEPSHA384, "sha512": keyring.OAEPSHA512}[d.PaddingHash]
		if d.Padding == "pkcs1" {
			pad, ok = keyring.PKCS1, true
		}
		if !ok {
			return nil, fmt.Errorf("keyfile: RSA key description with padding %q, hash %q", d.Padding, d.PaddingHash)
		}
		_, priv, err := k.RSA()
		if err != nil {
			return nil, err
		}
		return keyring.NewRawRSA(d.ProviderID, k.KeyID, nil, priv, pad)
	}
	return nil, fmt.Errorf("keyfile: unsupported key description type %q (encryption-algorithm %q)", d.Type, d.Algorithm)
}

// DBESDKTableConfig returns the DBESDKFormat TableConfig of a DB-ESDK
// vector's config (docs/dbesdk-format.md §12.3 defaults for absent
// members), with the keyring of its key description over keys.
func DBESDKTableConfig(c testvectors.DBESDKConfig, keys MPLKeys) (ddbenc.TableConfig, error) {
	kr, err := DBESDKKeyring(c.Key, keys)
	if err != nil {
		return ddbenc.TableConfig{}, err
	}
	acts, err := c.ActionMap()
	if err != nil {
		return ddbenc.TableConfig{}, err
	}
	cfg := ddbenc.TableConfig{
		TableName:                      c.TableName(),
		PartitionKey:                   c.PartitionKeyName(),
		SortKey:                        c.SortKey,
		Format:                         ddbenc.DBESDKFormat,
		Keyring:                        kr,
		Actions:                        acts,
		AllowedUnsignedAttributes:      c.Unsigned,
		AllowedUnsignedAttributePrefix: c.UnsignedPrefix,
	}
	switch c.Suite {
	case "ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY_SYMSIG_HMAC_SHA384":
		cfg.Suite = ddbenc.SuiteSymmetricOnly
	case "ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384_SYMSIG_HMAC_SHA384", "":
		cfg.Suite = ddbenc.SuiteECDSAP384
	default:
		return ddbenc.TableConfig{}, fmt.Errorf("keyfile: unknown algorithm suite %q", c.Suite)
	}
	return cfg, nil
}
