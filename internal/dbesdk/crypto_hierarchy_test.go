package dbesdk

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"testing"
)

// TestHierarchyDeriveKey checks the allocation-free HMAC of
// HierarchyDeriveKey against crypto/hmac for keys and salts of every length
// around the block size, and that it does not allocate.
func TestHierarchyDeriveKey(t *testing.T) {
	want := func(key, salt []byte) []byte {
		m := hmac.New(sha256.New, key)
		msg := binary.BigEndian.AppendUint32(nil, 1)
		msg = append(append(append(msg, HierarchyProviderID...), 0), salt...)
		m.Write(binary.BigEndian.AppendUint32(msg, 256))
		return m.Sum(nil)
	}
	for _, kl := range []int{0, 1, 31, 32, 33, 63, 64, 65, 128} {
		for _, sl := range []int{0, 16, 63, 64, 65, 100} {
			key, salt := bytes.Repeat([]byte{byte(kl + 1)}, kl), bytes.Repeat([]byte{byte(sl + 7)}, sl)
			var got [KeyLen]byte
			HierarchyDeriveKey(&got, key, salt)
			if w := want(key, salt); !bytes.Equal(got[:], w) {
				t.Errorf("key %d bytes, salt %d bytes: %x, want %x", kl, sl, got, w)
			}
			if w := want(key, salt); !bytes.Equal(HierarchyDerivedKey(key, salt), w) {
				t.Errorf("HierarchyDerivedKey: key %d bytes, salt %d bytes differs", kl, sl)
			}
		}
	}
	key, salt := make([]byte, 32), make([]byte, 16)
	var dst [KeyLen]byte
	if n := testing.AllocsPerRun(100, func() { HierarchyDeriveKey(&dst, key, salt) }); n != 0 {
		t.Errorf("HierarchyDeriveKey allocates %v times", n)
	}
}
