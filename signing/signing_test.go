package signing_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"

	"github.com/ddbec/ddbec-go/signing"
)

func TestHMAC(t *testing.T) {
	for _, alg := range []string{"HmacSHA224", "HmacSHA256", "HmacSHA384", "HmacSHA512"} {
		k, err := signing.NewHMAC(alg, []byte("8bytekey"))
		if err != nil {
			t.Fatal(err)
		}
		msg := []byte("string to sign")
		sig, err := k.Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Verify(msg, sig, ""); err != nil {
			t.Errorf("%s: Verify = %v", alg, err)
		}
		for i := range len(sig) * 8 {
			bad := bytes.Clone(sig)
			bad[i/8] ^= 1 << (i % 8)
			if err := k.Verify(msg, bad, ""); !errors.Is(err, signing.ErrInvalidSignature) {
				t.Fatalf("%s: bit %d flipped: Verify = %v", alg, i, err)
			}
		}
		if err := k.Verify(msg[1:], sig, ""); !errors.Is(err, signing.ErrInvalidSignature) {
			t.Errorf("%s: changed message verified", alg)
		}
	}
	if _, err := signing.NewHMAC("HmacMD5", []byte("k")); !errors.Is(err, signing.ErrInvalidKey) {
		t.Errorf("NewHMAC(HmacMD5) = %v", err)
	}
	if _, err := signing.NewHMAC("HmacSHA256", nil); !errors.Is(err, signing.ErrInvalidKey) {
		t.Errorf("NewHMAC(empty key) = %v", err)
	}
}

func TestRSA(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("string to sign")
	for _, alg := range []string{"", "SHA224withRSA", "SHA256withRSA", "SHA384withRSA", "SHA512withRSA"} {
		s, err := signing.NewRSASigner(key, alg)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := s.Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := signing.NewRSAVerifier(&key.PublicKey)
		if err := v.Verify(msg, sig, s.Algorithm()); err != nil {
			t.Errorf("%q: Verify = %v", alg, err)
		}
		for i := 0; i < len(sig)*8; i += 61 {
			bad := bytes.Clone(sig)
			bad[i/8] ^= 1 << (i % 8)
			if err := v.Verify(msg, bad, s.Algorithm()); !errors.Is(err, signing.ErrInvalidSignature) {
				t.Fatalf("%q: bit %d flipped: Verify = %v", alg, i, err)
			}
		}
	}
	s, _ := signing.NewRSASigner(key, "")
	if s.Algorithm() != "SHA256withRSA" {
		t.Errorf("default algorithm = %q", s.Algorithm())
	}
	sig, _ := s.Sign(msg)
	// The description names the hash on verify: a different hash fails.
	if err := s.Verify(msg, sig, "SHA512withRSA"); !errors.Is(err, signing.ErrInvalidSignature) {
		t.Errorf("Verify with the wrong hash = %v", err)
	}
	if err := s.Verify(msg, sig, "MD5withRSA"); !errors.Is(err, signing.ErrInvalidSignature) {
		t.Errorf("Verify with an unknown algorithm = %v", err)
	}
	if _, err := signing.NewRSASigner(key, "MD5withRSA"); !errors.Is(err, signing.ErrInvalidKey) {
		t.Errorf("NewRSASigner(MD5withRSA) = %v", err)
	}
}
