package keyfile

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadMPLVectorKeys(t *testing.T) {
	keys, err := LoadMPL(filepath.Join("..", "..", "testdata", "vectors", "dbesdk", "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	for name, bits := range map[string]int{"aes-128": 128, "aes-192": 192, "aes-256": 256, "𝟁-nonascii-𐀂-aes-256-𝟁-with-�": 256} {
		k, err := keys.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		m, err := k.AES()
		if err != nil || 8*len(m) != bits || !k.CanEncrypt() || !k.CanDecrypt() {
			t.Errorf("%s: %d bits, %v", name, 8*len(m), err)
		}
	}
	priv, _ := keys.Get("rsa-4096-private")
	if pub, pk, err := priv.RSA(); err != nil || pk == nil || pub.N.BitLen() != 4096 || priv.KeyID != "rsa-4096" {
		t.Errorf("rsa-4096-private: %v", err)
	}
	pubEntry, _ := keys.Get("rsa-4096-public")
	if pub, pk, err := pubEntry.RSA(); err != nil || pk != nil || pub == nil || pubEntry.CanDecrypt() {
		t.Errorf("rsa-4096-public: %v", err)
	}
	// Wrong kinds are refused with the entry's name, never its material.
	for _, name := range []string{"static-branch-key-1", "rsa-4096-private", "us-west-2-mrk", "ecc-256-private"} {
		k, _ := keys.Get(name)
		if _, err := k.AES(); !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s as AES: %v", name, err)
		}
	}
	aes, _ := keys.Get("aes-256")
	if _, _, err := aes.RSA(); !errors.Is(err, ErrKey) || strings.Contains(err.Error(), aes.Material) {
		t.Errorf("aes-256 as RSA: %v", err)
	}
	if _, err := keys.Get("nope"); !errors.Is(err, ErrKey) {
		t.Errorf("unknown entry: %v", err)
	}
}

func TestParseMPLErrors(t *testing.T) {
	for name, data := range map[string]string{
		"not json":        `{`,
		"legacy key file": `{"aesKey": {"material": "AAAA", "algorithm": "AES", "encoding": "RAW", "type": "symmetric"}}`,
		"other manifest":  `{"manifest": {"type": "aws-dbesdk-decrypt"}, "keys": {}}`,
		"null entry":      `{"manifest": {"type": "keys"}, "keys": {"a": null}}`,
	} {
		if _, err := ParseMPL([]byte(data)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	bad := `{"manifest": {"type": "keys"}, "keys": {
		"short": {"type": "symmetric", "algorithm": "aes", "encoding": "base64", "material": "AAEC", "key-id": "s"},
		"bits": {"type": "symmetric", "algorithm": "aes", "bits": 256, "encoding": "base64", "material": "AAECAwQFBgcICRAREhMUFQ==", "key-id": "b"},
		"b64": {"type": "symmetric", "algorithm": "aes", "encoding": "base64", "material": "!!!", "key-id": "x"},
		"pem": {"type": "private", "algorithm": "rsa", "encoding": "pem", "material": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "key-id": "p"}}}`
	keys, err := ParseMPL([]byte(bad))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"short", "bits", "b64"} {
		if _, err := keys[name].AES(); !errors.Is(err, ErrKey) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, _, err := keys["pem"].RSA(); !errors.Is(err, ErrKey) || strings.Contains(err.Error(), "AAAA") {
		t.Errorf("pem: %v", err)
	}
}
