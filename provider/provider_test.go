package provider

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/legacy"
	"github.com/ddbec/ddbec-go/signing"
)

func TestConstructorErrors(t *testing.T) {
	hm, _ := signing.NewHMAC("HmacSHA256", []byte("k"))
	kek, _ := AESWrappingKey(make([]byte, 16))
	priv, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsaWrite, _ := RSAWrappingKey(&priv.PublicKey, nil)
	cases := map[string]error{}
	_, cases["static short key"] = NewStatic(make([]byte, 15), hm, nil)
	_, cases["static no keys"] = NewStatic(make([]byte, 16), nil, nil)
	_, cases["aes kek size"] = AESWrappingKey(make([]byte, 20))
	_, cases["rsa none"] = RSAWrappingKey(nil, nil)
	_, cases["wrapped nil key"] = NewWrapped(nil, hm, nil)
	_, cases["wrapped no signing"] = NewWrapped(kek, nil, nil)
	_, cases["asymmetric nil"] = NewAsymmetricStatic(nil, hm, nil)
	_, cases["wrap alg unusable"] = NewWrapped(kek, hm, nil, func(o *WrappedOptions) { o.WrapAlgorithm = RSAOAEP256 })
	_, cases["pkcs1 for writing"] = NewWrapped(rsaWrite, hm, nil, func(o *WrappedOptions) { o.WrapAlgorithm = "RSA/ECB/PKCS1Padding" })
	_, cases["wrap alg in description"] = NewWrapped(kek, hm, nil, func(o *WrappedOptions) {
		o.MaterialDescription = map[string]string{legacy.WrapAlgorithm: AESWrap}
	})
	_, cases["content key alg in description"] = NewWrapped(kek, hm, nil, func(o *WrappedOptions) {
		o.MaterialDescription = map[string]string{legacy.ContentKeyAlg: "AES/128"}
	})
	_, cases["reserved description entry"] = NewWrapped(kek, hm, nil, func(o *WrappedOptions) {
		o.MaterialDescription = map[string]string{legacy.EnvelopeKey: "x"}
	})
	for name, err := range cases {
		if !errors.Is(err, ddbenc.ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestReadOnlyAndWriteOnly(t *testing.T) {
	ctx := context.Background()
	v, _ := signing.NewHMAC("HmacSHA256", []byte("k"))
	readOnly, err := NewStatic(make([]byte, 16), nil, v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readOnly.EncryptionMaterials(ctx, ddbenc.EncryptionContext{}); !errors.Is(err, ddbenc.ErrInvalidConfig) {
		t.Errorf("read-only static encrypt: %v", err)
	}
	priv, _ := rsa.GenerateKey(rand.Reader, 1024)
	wk, _ := RSAWrappingKey(&priv.PublicKey, nil)
	writeOnly, err := NewWrapped(wk, v, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := writeOnly.EncryptionMaterials(ctx, ddbenc.EncryptionContext{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = writeOnly.DecryptionMaterials(ctx, ddbenc.EncryptionContext{MaterialDescription: m.MaterialDescription})
	if !errors.Is(err, ddbenc.ErrWrongKey) {
		t.Errorf("write-only wrapped decrypt: %v, want ErrWrongKey", err)
	}
}

func TestStaticDescriptionFilter(t *testing.T) {
	ctx := context.Background()
	hm, _ := signing.NewHMAC("HmacSHA256", []byte("k"))
	p, _ := NewStatic(make([]byte, 16), hm, nil, func(o *StaticOptions) {
		o.MaterialDescription = map[string]string{"key-id": "one"}
	})
	m, err := p.EncryptionMaterials(ctx, ddbenc.EncryptionContext{})
	if err != nil || m.MaterialDescription["key-id"] != "one" {
		t.Fatalf("EncryptionMaterials = %v, %v", m, err)
	}
	if _, err := p.DecryptionMaterials(ctx, ddbenc.EncryptionContext{MaterialDescription: map[string]string{"key-id": "one"}}); err != nil {
		t.Errorf("matching description: %v", err)
	}
	if _, err := p.DecryptionMaterials(ctx, ddbenc.EncryptionContext{MaterialDescription: map[string]string{"key-id": "two"}}); !errors.Is(err, ddbenc.ErrWrongKey) {
		t.Errorf("other description: %v, want ErrWrongKey", err)
	}
}

func TestWrappedTypedOptions(t *testing.T) {
	ctx := context.Background()
	hm, _ := signing.NewHMAC("HmacSHA256", []byte("k"))
	kek, _ := AESWrappingKey(make([]byte, 16))
	for entry, field := range map[string]string{legacy.ContentKeyAlg: "ContentKeyAlgorithm", legacy.WrapAlgorithm: "WrapAlgorithm"} {
		_, err := NewWrapped(kek, hm, nil, func(o *WrappedOptions) { o.MaterialDescription = map[string]string{entry: "AES"} })
		if !errors.Is(err, ddbenc.ErrInvalidConfig) || !strings.Contains(err.Error(), "WrappedOptions."+field) {
			t.Errorf("%s in MaterialDescription: %v, want ErrInvalidConfig naming %s", entry, err, field)
		}
	}
	priv, _ := rsa.GenerateKey(rand.Reader, 1024)
	wk, _ := RSAWrappingKey(nil, priv)
	const sha1OAEP = "RSA/ECB/OAEPWithSHA-1AndMGF1Padding"
	p, err := NewWrapped(wk, hm, nil, func(o *WrappedOptions) {
		o.ContentKeyAlgorithm, o.WrapAlgorithm = "AES/128", sha1OAEP
		o.MaterialDescription = map[string]string{"extra": "x"}
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.EncryptionMaterials(ctx, ddbenc.EncryptionContext{})
	if err != nil {
		t.Fatal(err)
	}
	d := m.MaterialDescription
	if len(m.EncryptionKey) != 16 || d[legacy.ContentKeyAlg] != "AES/128" || d[legacy.WrapAlgorithm] != sha1OAEP || d["extra"] != "x" {
		t.Errorf("materials: %d-byte key, description %v", len(m.EncryptionKey), d)
	}
	if _, err := p.DecryptionMaterials(ctx, ddbenc.EncryptionContext{MaterialDescription: d}); err != nil {
		t.Errorf("round trip: %v", err)
	}
}
