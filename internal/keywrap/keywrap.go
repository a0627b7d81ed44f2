// Package keywrap implements AES Key Wrap (RFC 3394) with the default IV and
// no padding, as the legacy clients' "AESWrap" transformation does.
package keywrap

import (
	"crypto/aes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
)

var defaultIV = [8]byte{0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6}

var (
	// ErrInvalidInput reports a key to wrap or a wrapped key of the wrong size.
	ErrInvalidInput = errors.New("keywrap: input must be a multiple of 8 bytes, at least 16")
	// ErrUnwrap reports a wrapped key that fails the integrity check (wrong
	// key-encryption key or tampered data).
	ErrUnwrap = errors.New("keywrap: integrity check failed")
)

// Wrap wraps key (a multiple of 8 bytes, at least 16) with kek.
func Wrap(kek, key []byte) ([]byte, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	if len(key) < 16 || len(key)%8 != 0 {
		return nil, ErrInvalidInput
	}
	n := len(key) / 8
	out := make([]byte, 8+len(key))
	copy(out, defaultIV[:])
	copy(out[8:], key)
	var b [16]byte
	for j := range 6 {
		for i := 1; i <= n; i++ {
			copy(b[:8], out[:8])
			copy(b[8:], out[i*8:i*8+8])
			block.Encrypt(b[:], b[:])
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(out[:8], binary.BigEndian.Uint64(b[:8])^t)
			copy(out[i*8:i*8+8], b[8:])
		}
	}
	return out, nil
}

// Unwrap reverses Wrap and checks the integrity value.
func Unwrap(kek, wrapped []byte) ([]byte, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	if len(wrapped) < 24 || len(wrapped)%8 != 0 {
		return nil, ErrInvalidInput
	}
	n := len(wrapped)/8 - 1
	a := make([]byte, 8)
	copy(a, wrapped[:8])
	r := make([]byte, len(wrapped)-8)
	copy(r, wrapped[8:])
	var b [16]byte
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(b[:8], binary.BigEndian.Uint64(a)^t)
			copy(b[8:], r[(i-1)*8:i*8])
			block.Decrypt(b[:], b[:])
			copy(a, b[:8])
			copy(r[(i-1)*8:i*8], b[8:])
		}
	}
	if subtle.ConstantTimeCompare(a, defaultIV[:]) != 1 {
		return nil, ErrUnwrap
	}
	return r, nil
}
