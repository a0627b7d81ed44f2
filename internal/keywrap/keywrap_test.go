package keywrap

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func h(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// RFC 3394 section 4 test vectors.
func TestRFC3394(t *testing.T) {
	cases := []struct{ name, kek, key, wrapped string }{
		{"4.1 128 KEK 128 key", "000102030405060708090A0B0C0D0E0F", "00112233445566778899AABBCCDDEEFF", "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"},
		{"4.2 192 KEK 128 key", "000102030405060708090A0B0C0D0E0F1011121314151617", "00112233445566778899AABBCCDDEEFF", "96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D"},
		{"4.3 256 KEK 128 key", "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "00112233445566778899AABBCCDDEEFF", "64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7"},
		{"4.6 256 KEK 256 key", "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F", "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21"},
	}
	for _, c := range cases {
		got, err := Wrap(h(c.kek), h(c.key))
		if err != nil || !bytes.Equal(got, h(c.wrapped)) {
			t.Errorf("%s: Wrap = %X, %v; want %s", c.name, got, err, c.wrapped)
		}
		key, err := Unwrap(h(c.kek), h(c.wrapped))
		if err != nil || !bytes.Equal(key, h(c.key)) {
			t.Errorf("%s: Unwrap = %X, %v; want %s", c.name, key, err, c.key)
		}
		w := h(c.wrapped)
		for i := range len(w) * 8 {
			bad := bytes.Clone(w)
			bad[i/8] ^= 1 << (i % 8)
			if _, err := Unwrap(h(c.kek), bad); !errors.Is(err, ErrUnwrap) {
				t.Fatalf("%s: bit %d flipped: Unwrap = %v", c.name, i, err)
			}
		}
	}
	if _, err := Wrap(h("000102030405060708090A0B0C0D0E0F"), make([]byte, 12)); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("Wrap(12 bytes) = %v", err)
	}
	if _, err := Unwrap(h("000102030405060708090A0B0C0D0E0F"), make([]byte, 20)); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("Unwrap(20 bytes) = %v", err)
	}
}
