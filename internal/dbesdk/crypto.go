package dbesdk

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
)

// Suite is an algorithm suite id (docs/dbesdk-format.md §5.1).
type Suite uint16

const (
	// SuiteSymSig is 0x6700: AES-256-GCM, HKDF-SHA512, key commitment,
	// HMAC-SHA384 recipient tags, no ECDSA signature.
	SuiteSymSig Suite = 0x6700
	// SuiteECDSA is 0x6701, the default: as 0x6700 plus an ECDSA P-384
	// signature.
	SuiteECDSA Suite = 0x6701
)

// Valid reports whether s is one of the two DB-ESDK suites.
func (s Suite) Valid() bool { return s == SuiteSymSig || s == SuiteECDSA }

// Signed reports whether the suite carries an ECDSA signature.
func (s Suite) Signed() bool { return s == SuiteECDSA }

// Sizes (docs/dbesdk-format.md Appendix B).
const (
	// KeyLen is the length of data keys, intermediate keys and MAC keys.
	KeyLen = 32
	// WrappedPDKLen is the length of the wrapped PDK at the start of every
	// EDK ciphertext (docs/dbesdk-format.md §7.3).
	WrappedPDKLen = 48
	msgIDLen      = 32
	commitLen     = 32
	tagLen        = 48
	sigLen        = 103
)

func gcmOf(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func hkdf512(ikm, info []byte) []byte {
	k, err := hkdf.Key(sha512.New, ikm, nil, string(info), KeyLen)
	if err != nil {
		panic(err) // only for lengths far beyond 32
	}
	return k
}

// commitKey and fieldRootKey are docs/dbesdk-format.md §5.2.
func commitKey(pdk, msgID []byte) []byte {
	return hkdf512(pdk, append([]byte("AWS_DBE_COMMIT_KEY"), msgID...))
}

func fieldRootKey(pdk, msgID []byte) []byte {
	return hkdf512(pdk, append([]byte("AWS_DBE_DERIVE_KEY"), msgID...))
}

// commitment is docs/dbesdk-format.md §6.4 (HMAC-SHA512, not SHA-384: §11 item 1).
func commitment(pdk, msgID, partial []byte) []byte {
	m := hmac.New(sha512.New, commitKey(pdk, msgID))
	m.Write(partial)
	return m.Sum(nil)[:commitLen]
}

// fieldKey derives the key and nonce of the encrypted field with the given
// offset (docs/dbesdk-format.md §5.3).
func fieldKey(root []byte, offset int) (key, nonce []byte) {
	b, err := aes.NewCipher(root)
	if err != nil {
		panic(err)
	}
	ctr := append([]byte("AwsDbeField"), 0x2C)
	ctr = binary.BigEndian.AppendUint32(ctr, uint32(3*offset))
	ks := make([]byte, 44)
	cipher.NewCTR(b, ctr).XORKeyStream(ks, ks)
	return ks[:32], ks[32:]
}

// encryptField is docs/dbesdk-format.md §5.4: type id ‖ ciphertext ‖ tag.
func encryptField(root []byte, offset int, path []byte, t terminal) []byte {
	key, nonce := fieldKey(root, offset)
	g, err := gcmOf(key)
	if err != nil {
		panic(err)
	}
	out := binary.BigEndian.AppendUint16(nil, t.typ)
	return g.Seal(out, nonce, t.val, path)
}

// decryptField is docs/dbesdk-format.md §5.5.
func decryptField(root []byte, offset int, path, stored []byte) (terminal, error) {
	if len(stored) < 18 {
		return terminal{}, errf(KindMalformed, "", "encrypted value too short")
	}
	key, nonce := fieldKey(root, offset)
	g, err := gcmOf(key)
	if err != nil {
		return terminal{}, err
	}
	pt, err := g.Open(nil, nonce, stored[2:], path)
	if err != nil {
		return terminal{}, errf(KindDecryption, "", "field does not decrypt")
	}
	return terminal{binary.BigEndian.Uint16(stored), pt}, nil
}

// WrapWithIntermediate draws a fresh intermediate key and wraps pdk under it
// for the full encryption context ec (docs/dbesdk-format.md §7.2, §7.4). The
// keyring protects ik its own way and stores wrapped ‖ its wrapping of ik as
// the EDK ciphertext; macKey is the EDK's symmetric signing key.
func WrapWithIntermediate(pdk []byte, ec map[string]string) (ik, wrapped, macKey []byte, err error) {
	if len(pdk) != KeyLen {
		return nil, nil, nil, errf(KindInvalidConfig, "", "plaintext data key must be %d bytes", KeyLen)
	}
	b := make([]byte, 2*KeyLen, 2*KeyLen+WrappedPDKLen)
	ik, macKey = b[:KeyLen:KeyLen], b[KeyLen:2*KeyLen:2*KeyLen]
	if _, err := rand.Read(ik); err != nil {
		return nil, nil, nil, err
	}
	wrapped, err = SealWithIntermediate(b[2*KeyLen:], macKey, ik, pdk, SerializeContext(ec))
	if err != nil {
		return nil, nil, nil, err
	}
	return ik, wrapped, macKey, nil
}

// SealWithIntermediate is WrapWithIntermediate for a given 32-byte
// intermediate key ik and serialized context aad (SerializeContext): it
// writes the EDK's symmetric signing key into macKey (32 bytes) and appends
// the 48-byte wrapped PDK to dst.
func SealWithIntermediate(dst, macKey, ik, pdk, aad []byte) ([]byte, error) {
	if len(pdk) != KeyLen || len(ik) != KeyLen || len(macKey) != KeyLen {
		return nil, errf(KindInvalidConfig, "", "plaintext data key must be %d bytes", KeyLen)
	}
	s := getScratch()
	defer putScratch(s)
	kek := s.intermediateKeys(macKey, ik)
	g, err := gcmOf(kek)
	if err != nil {
		return nil, err
	}
	return g.Seal(dst, s.u[:12:12], pdk, aad), nil
}

// intermediateKeys writes the MAC key of ik into macKey and returns its
// key-encryption key (docs/dbesdk-format.md §7.2); s.u[:12] is zeroed for
// the all-zero IV.
func (s *scratch) intermediateKeys(macKey, ik []byte) []byte {
	prk := s.extract(ik)
	copy(macKey, s.expand32(&s.keys[2], prk, "AWS_MPL_INTERMEDIATE_KEYWRAP_MAC", nil))
	clear(s.u[:])
	return s.expand32(&s.keys[3], prk, "AWS_MPL_INTERMEDIATE_KEYWRAP_ENC", nil)
}

// UnwrapWithIntermediate opens the wrapped PDK (the first 48 bytes of an EDK
// ciphertext) with a recovered intermediate key (docs/dbesdk-format.md §7.5).
// It returns the PDK and the EDK's symmetric signing key.
func UnwrapWithIntermediate(ik, wrapped []byte, ec map[string]string) (pdk, macKey []byte, err error) {
	b := make([]byte, 2*KeyLen)
	pdk, err = OpenWithIntermediate(b[:0:KeyLen], b[KeyLen:], ik, wrapped, SerializeContext(ec))
	if err != nil {
		return nil, nil, err
	}
	return pdk, b[KeyLen:], nil
}

// OpenWithIntermediate is UnwrapWithIntermediate for a serialized context
// aad (SerializeContext): it writes the EDK's symmetric signing key into
// macKey (32 bytes) and appends the PDK to dst.
func OpenWithIntermediate(dst, macKey, ik, wrapped, aad []byte) (pdk []byte, err error) {
	if len(ik) != KeyLen || len(wrapped) != WrappedPDKLen || len(macKey) != KeyLen {
		return nil, errf(KindDecryption, "", "intermediate key or wrapped data key has the wrong length")
	}
	s := getScratch()
	defer putScratch(s)
	kek := s.intermediateKeys(macKey, ik)
	g, err := gcmOf(kek)
	if err != nil {
		return nil, err
	}
	pdk, err = g.Open(dst, s.u[:12:12], wrapped, aad)
	if err != nil {
		clear(macKey)
		return nil, errf(KindDecryption, "", "wrapped data key does not open under this context")
	}
	return pdk, nil
}

// HierarchyProviderID is the provider id of hierarchical-keyring EDKs.
const HierarchyProviderID = "aws-kms-hierarchy"

// HierarchyDerivedKey is the hierarchical keyring's wrapping key: NIST SP
// 800-108 counter-mode KDF with HMAC-SHA256 (docs/dbesdk-format.md §8.10.2).
func HierarchyDerivedKey(branchKey, salt []byte) []byte {
	var k [KeyLen]byte
	HierarchyDeriveKey(&k, branchKey, salt)
	return k[:]
}

// HierarchyDeriveKey writes HierarchyDerivedKey(branchKey, salt) to dst
// without allocating: the single HMAC-SHA256 block of §8.10.2, computed as
// RFC 2104 defines it (SHA-256(K⊕opad ‖ SHA-256(K⊕ipad ‖ message))) on stack
// buffers. A branch key longer than the SHA-256 block is hashed first, as
// HMAC requires.
func HierarchyDeriveKey(dst *[KeyLen]byte, branchKey, salt []byte) {
	const block = sha256.BlockSize
	var key [block]byte
	if len(branchKey) > block {
		sum := sha256.Sum256(branchKey)
		copy(key[:], sum[:])
	} else {
		copy(key[:], branchKey)
	}
	const fixed = 4 + len(HierarchyProviderID) + 1 + 4
	var in [block + fixed + 64]byte
	if len(salt) > 64 {
		// Not reachable from the keyring (salts are 16 bytes); keep the
		// general definition correct anyway.
		m := hmac.New(sha256.New, branchKey)
		msg := binary.BigEndian.AppendUint32(nil, 1)
		msg = append(append(append(msg, HierarchyProviderID...), 0), salt...)
		m.Write(binary.BigEndian.AppendUint32(msg, 256))
		m.Sum(dst[:0])
		clear(key[:])
		return
	}
	for i := range block {
		in[i] = key[i] ^ 0x36
	}
	n := block
	binary.BigEndian.PutUint32(in[n:], 1)
	n += 4
	n += copy(in[n:], HierarchyProviderID)
	in[n] = 0
	n++
	n += copy(in[n:], salt)
	binary.BigEndian.PutUint32(in[n:], 256)
	n += 4
	inner := sha256.Sum256(in[:n])
	var out [block + sha256.Size]byte
	for i := range block {
		out[i] = key[i] ^ 0x5c
	}
	copy(out[block:], inner[:])
	*dst = sha256.Sum256(out[:])
	clear(key[:])
	clear(in[:])
	clear(out[:])
	clear(inner[:])
}
