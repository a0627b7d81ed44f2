package ddbenctest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"maps"
	"slices"
)

// Blob layout: 0x01 | u8 len(id) | id | nonce(12) | AES-GCM(material, nonce,
// plaintext, aad = id || canonical EC).
const blobVersion = 1

func aad(id string, ec map[string]string) []byte {
	b := []byte(id)
	for _, k := range slices.Sorted(maps.Keys(ec)) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(ec[k])))
		b = append(b, ec[k]...)
	}
	return b
}

func gcm(material []byte) cipher.AEAD {
	block, err := aes.NewCipher(material)
	if err != nil {
		panic(err)
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return g
}

func seal(k *key, plaintext []byte, ec map[string]string) []byte {
	nonce := make([]byte, 12)
	rand.Read(nonce)
	out := append([]byte{blobVersion, byte(len(k.id))}, k.id...)
	out = append(out, nonce...)
	return gcm(k.material).Seal(out, nonce, plaintext, aad(k.id, ec))
}

// blobKeyID reads the key id from a blob without authenticating it.
func blobKeyID(blob []byte) (string, []byte, bool) {
	if len(blob) < 2 || blob[0] != blobVersion || len(blob) < 2+int(blob[1])+12+16 {
		return "", nil, false
	}
	n := int(blob[1])
	return string(blob[2 : 2+n]), blob[2+n:], true
}

func (s *KMS) open(k *key, rest []byte, ec map[string]string) ([]byte, *apiError) {
	pt, err := gcm(k.material).Open(nil, rest[:12], rest[12:], aad(k.id, ec))
	if err != nil {
		return nil, &apiError{"InvalidCiphertextException", "", 400}
	}
	return pt, nil
}
