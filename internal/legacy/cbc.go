package legacy

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The attribute envelope (docs/legacy-format.md §3): an encrypted attribute
// is stored as B(IV || AES-CBC(content key, IV, PKCS#7(serialize(value)))),
// with a fresh 16-byte IV per attribute.

var (
	// ErrContentKey reports a content key that is not an AES key.
	ErrContentKey = errors.New("content key is not a valid AES key")
	// ErrCiphertext reports a ciphertext of the wrong length or with invalid
	// padding. Its message says nothing more.
	ErrCiphertext = errors.New("invalid attribute ciphertext")
)

// ivSetter is implemented by the standard library's CBC modes: one mode per
// item serves every attribute.
type ivSetter interface{ SetIV([]byte) }

// ValueEncrypter encrypts the attribute values of one item under one content
// key. Use it from one goroutine.
type ValueEncrypter struct {
	block cipher.Block
	mode  cipher.BlockMode
	ivs   []byte // unused IVs, drawn for the whole item at once
	ord   Ordering
}

// NewValueEncrypter returns an encrypter for n values: it draws their IVs
// now. It fails with ErrContentKey if key is not an AES key, and with the
// random source's error if that fails.
func NewValueEncrypter(key []byte, n int, o Ordering) (ValueEncrypter, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return ValueEncrypter{}, ErrContentKey
	}
	ivs := make([]byte, aes.BlockSize*n)
	if _, err := rand.Read(ivs); err != nil {
		return ValueEncrypter{}, err
	}
	return ValueEncrypter{block: block, ivs: ivs, ord: o}, nil
}

// Encrypt serializes v and returns IV || AES-CBC(PKCS#7). The serialization
// is written straight into the ciphertext buffer. Serialization errors wrap
// ErrUnsupportedValue. It panics if called more than n times.
func (e *ValueEncrypter) Encrypt(v types.AttributeValue) ([]byte, error) {
	iv := e.ivs[:aes.BlockSize:aes.BlockSize]
	e.ivs = e.ivs[aes.BlockSize:]
	if e.mode == nil {
		e.mode = cipher.NewCBCEncrypter(e.block, iv)
	} else {
		e.mode.(ivSetter).SetIV(iv)
	}
	n := serializedSizeHint(v)
	out := make([]byte, aes.BlockSize, aes.BlockSize+n+aes.BlockSize)
	copy(out, iv)
	out, err := appendSerialized(out, v, e.ord)
	if err != nil {
		return nil, err
	}
	pad := aes.BlockSize - (len(out)-aes.BlockSize)%aes.BlockSize
	for range pad {
		out = append(out, byte(pad))
	}
	e.mode.CryptBlocks(out[aes.BlockSize:], out[aes.BlockSize:])
	return out, nil
}

// serializedSizeHint is the serialized size of strings, binaries and
// numbers (6 bytes of tag and length plus the value), a guess otherwise.
func serializedSizeHint(v types.AttributeValue) int {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return 6 + len(x.Value)
	case *types.AttributeValueMemberB:
		return 6 + len(x.Value)
	case *types.AttributeValueMemberN:
		return 6 + len(x.Value)
	}
	return 64
}

// ValueDecrypter decrypts the attribute values of one item under one content
// key, into one plaintext buffer. Use it from one goroutine.
type ValueDecrypter struct {
	mode    cipher.BlockMode
	scratch []byte
}

// NewValueDecrypter returns a decrypter for ciphertexts of at most maxLen
// bytes. It fails with ErrContentKey if key is not an AES key.
func NewValueDecrypter(key []byte, maxLen int) (ValueDecrypter, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return ValueDecrypter{}, ErrContentKey
	}
	scratch := make([]byte, max(maxLen, 2*aes.BlockSize))
	return ValueDecrypter{mode: cipher.NewCBCDecrypter(block, scratch[:aes.BlockSize]), scratch: scratch}, nil
}

// Decrypt decrypts IV || ciphertext and deserializes the plaintext. A bad
// length or padding is ErrCiphertext; a plaintext that does not deserialize
// wraps ErrMalformed. ct must be at most maxLen bytes.
func (d *ValueDecrypter) Decrypt(ct []byte) (types.AttributeValue, error) {
	pt, ok := decryptCBC(d.mode, ct, d.scratch)
	if !ok {
		return nil, ErrCiphertext
	}
	// Deserialize copies values out of the shared buffer.
	return Deserialize(pt)
}

// decryptCBC decrypts IV || ciphertext into scratch (at least len(ct)
// bytes) and returns the unpadded plaintext, which aliases scratch.
func decryptCBC(mode cipher.BlockMode, ct, scratch []byte) ([]byte, bool) {
	if len(ct) < 2*aes.BlockSize || len(ct)%aes.BlockSize != 0 {
		return nil, false
	}
	body := scratch[:len(ct)-aes.BlockSize]
	mode.(ivSetter).SetIV(ct[:aes.BlockSize])
	mode.CryptBlocks(body, ct[aes.BlockSize:])
	pad := int(body[len(body)-1])
	if pad == 0 || pad > aes.BlockSize {
		return nil, false
	}
	for _, b := range body[len(body)-pad:] {
		if int(b) != pad {
			return nil, false
		}
	}
	return body[:len(body)-pad], true
}
