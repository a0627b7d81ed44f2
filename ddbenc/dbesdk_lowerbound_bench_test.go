package ddbenc_test

// The lower bound of the DB-ESDK item format (docs/dbesdk-format.md §5–§7):
// only the primitive work an item of the AWS performance tests' shape needs,
// written with the standard library and sharing no code with this module, so
// that BenchmarkDBESDKEncryptItem / BenchmarkDBESDKDecryptItem can be read as
// ratios to it. Shape: partition_key S and sort_key N sign-only, attribute1
// M{data: B(size)} encrypt-and-sign, attribute2 S sign-only, :attribute3 S
// do-nothing (unsigned prefix ":"); one raw AES keyring (AES-256-GCM wrapping
// of the intermediate key).

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"hash"
	"testing"
)

var lbSizes = []struct {
	name string
	n    int
}{{"1KiB", 1 << 10}, {"10KiB", 10 << 10}, {"100KiB", 100 << 10}}

// lbItem is the work an item of the benchmark shape gives the format: the
// canonical paths and bytes of its signed fields and of its one encrypted
// field.
type lbItem struct {
	plainFields [][2][]byte // canonical path, type id || value
	encPath     []byte
	encValue    []byte // serialized M{data: B(size)} value, without its type id
}

func newLBItem(size int) lbItem {
	path := func(name string) []byte {
		// u64(depth=1) || "$" || LV(name), as canonical paths are laid out.
		b := binary.BigEndian.AppendUint64(nil, 1)
		b = append(b, '$')
		b = binary.BigEndian.AppendUint64(b, uint64(len(name)))
		return append(b, name...)
	}
	data := bytes.Repeat([]byte{0xab}, size)
	var m []byte // map: u32(count) || LV(key) || type id || LV(value)
	m = binary.BigEndian.AppendUint32(m, 1)
	m = binary.BigEndian.AppendUint32(m, 4)
	m = append(m, "data"...)
	m = append(m, 0xff, 0xff)
	m = binary.BigEndian.AppendUint32(m, uint32(len(data)))
	m = append(m, data...)
	return lbItem{
		plainFields: [][2][]byte{
			{path("partition_key"), append([]byte{0x00, 0x01}, "partition-value"...)},
			{path("sort_key"), append([]byte{0x00, 0x02}, "1"...)},
			{path("attribute2"), append([]byte{0x00, 0x01}, "attribute2 value"...)},
		},
		encPath:  path("attribute1"),
		encValue: m,
	}
}

// lbItemKeys is what one encrypted item carries.
type lbItemKeys struct {
	header, footer, stored []byte
	wrappedIK, wrappedPDK  []byte
	ec                     []byte
	pub                    []byte
}

type lbState struct {
	wrapGCM cipher.AEAD // the raw AES keyring's key
	signed  bool        // suite 0x6701
}

func hkdfKey(ikm []byte, info string) []byte {
	k, err := hkdf.Key(sha512.New, ikm, nil, info, 32)
	if err != nil {
		panic(err)
	}
	return k
}

func gcm(key []byte) cipher.AEAD {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		panic(err)
	}
	return g
}

// fieldKeyNonce is the AES-CTR keystream of §5.3 for field offset 0.
func fieldKeyNonce(root []byte) (key, nonce []byte) {
	b, _ := aes.NewCipher(root)
	ctr := make([]byte, 16)
	copy(ctr, "AwsDbeField")
	ctr[11] = 0x2c
	ks := make([]byte, 44)
	cipher.NewCTR(b, ctr).XORKeyStream(ks, ks)
	return ks[:32], ks[32:]
}

func canonicalHash(h hash.Hash, it lbItem, header, ec, stored []byte) []byte {
	h.Reset()
	h.Write(header)
	var u [8]byte
	binary.BigEndian.PutUint64(u[:], uint64(len(ec)))
	h.Write(u[:])
	h.Write(ec)
	for _, f := range it.plainFields {
		h.Write(f[0])
		binary.BigEndian.PutUint64(u[:], uint64(len(f[1])-2))
		h.Write(u[:])
		h.Write([]byte("PLAINTEXT"))
		h.Write(f[1])
	}
	h.Write(it.encPath)
	binary.BigEndian.PutUint64(u[:], uint64(len(stored)-2))
	h.Write(u[:])
	h.Write([]byte("ENCRYPTED"))
	h.Write(stored)
	return h.Sum(nil)
}

func (s *lbState) encrypt(it lbItem, h384 hash.Hash) lbItemKeys {
	var k lbItemKeys
	pdk, ik, msgID := make([]byte, 32), make([]byte, 32), make([]byte, 32)
	rand.Read(pdk)
	rand.Read(ik)
	rand.Read(msgID)
	k.ec = []byte("aws-crypto-table-name\x00GazelleVectorTable\x00aws-crypto-partition-name\x00partition_key")
	var priv *ecdsa.PrivateKey
	if s.signed {
		var err error
		if priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
			panic(err)
		}
		k.pub = elliptic.MarshalCompressed(elliptic.P384(), priv.X, priv.Y)
		k.ec = append(k.ec, k.pub...)
	}
	// Keyring: intermediate key wrapping (§7) and the raw AES wrap of it.
	prk, _ := hkdf.Extract(sha512.New, ik, nil)
	mac, _ := hkdf.Expand(sha512.New, prk, "AWS_MPL_INTERMEDIATE_KEYWRAP_MAC", 32)
	kek, _ := hkdf.Expand(sha512.New, prk, "AWS_MPL_INTERMEDIATE_KEYWRAP_ENC", 32)
	zero := make([]byte, 12)
	k.wrappedPDK = gcm(kek).Seal(nil, zero, pdk, k.ec)
	k.wrappedIK = s.wrapGCM.Seal(nil, zero, ik, k.ec)
	// Per item keys, the field, the header and its commitment.
	commitKey := hkdfKey(pdk, "AWS_DBE_COMMIT_KEY"+string(msgID))
	fieldRoot := hkdfKey(pdk, "AWS_DBE_DERIVE_KEY"+string(msgID))
	fk, fn := fieldKeyNonce(fieldRoot)
	k.stored = gcm(fk).Seal([]byte{0x02, 0x00}, fn, it.encValue, it.encPath)
	header := append([]byte{0x02, 0x01}, msgID...)
	header = append(header, 0x00, 0x04, 's', 's', 'e', 's')
	header = append(header, k.ec...)
	header = append(header, 1)
	header = append(header, k.wrappedPDK...)
	header = append(header, k.wrappedIK...)
	cm := hmac.New(sha512.New, commitKey)
	cm.Write(header)
	k.header = append(header, cm.Sum(nil)[:32]...)
	// Footer: the recipient tag and, for 0x6701, the signature.
	digest := canonicalHash(h384, it, k.header, k.ec, k.stored)
	tag := hmac.New(sha512.New384, mac)
	tag.Write(digest)
	k.footer = tag.Sum(nil)
	if s.signed {
		for {
			d := sha512.Sum384(digest)
			sig, err := ecdsa.SignASN1(rand.Reader, priv, d[:])
			if err != nil {
				panic(err)
			}
			if len(sig) == 103 {
				k.footer = append(k.footer, sig...)
				break
			}
		}
	}
	return k
}

func (s *lbState) decrypt(it lbItem, k lbItemKeys, h384 hash.Hash) ([]byte, error) {
	zero := make([]byte, 12)
	ik, err := s.wrapGCM.Open(nil, zero, k.wrappedIK, k.ec)
	if err != nil {
		return nil, err
	}
	prk, _ := hkdf.Extract(sha512.New, ik, nil)
	mac, _ := hkdf.Expand(sha512.New, prk, "AWS_MPL_INTERMEDIATE_KEYWRAP_MAC", 32)
	kek, _ := hkdf.Expand(sha512.New, prk, "AWS_MPL_INTERMEDIATE_KEYWRAP_ENC", 32)
	pdk, err := gcm(kek).Open(nil, zero, k.wrappedPDK, k.ec)
	if err != nil {
		return nil, err
	}
	msgID := k.header[2:34]
	commitKey := hkdfKey(pdk, "AWS_DBE_COMMIT_KEY"+string(msgID))
	cm := hmac.New(sha512.New, commitKey)
	cm.Write(k.header[:len(k.header)-32])
	if subtle.ConstantTimeCompare(cm.Sum(nil)[:32], k.header[len(k.header)-32:]) != 1 {
		return nil, errors.New("commitment")
	}
	digest := canonicalHash(h384, it, k.header, k.ec, k.stored)
	tag := hmac.New(sha512.New384, mac)
	tag.Write(digest)
	if !hmac.Equal(tag.Sum(nil), k.footer[:48]) {
		return nil, errors.New("tag")
	}
	if s.signed {
		x, y := elliptic.UnmarshalCompressed(elliptic.P384(), k.pub)
		d := sha512.Sum384(digest)
		if !ecdsa.VerifyASN1(&ecdsa.PublicKey{Curve: elliptic.P384(), X: x, Y: y}, d[:], k.footer[48:]) {
			return nil, errors.New("signature")
		}
	}
	fieldRoot := hkdfKey(pdk, "AWS_DBE_DERIVE_KEY"+string(msgID))
	fk, fn := fieldKeyNonce(fieldRoot)
	return gcm(fk).Open(nil, fn, k.stored[2:], it.encPath)
}

func lbStates() []struct {
	name string
	s    *lbState
} {
	wrap := gcm(bytes.Repeat([]byte{7}, 32))
	return []struct {
		name string
		s    *lbState
	}{{"6700", &lbState{wrapGCM: wrap}}, {"6701", &lbState{wrapGCM: wrap, signed: true}}}
}

func BenchmarkDBESDKLowerBoundEncrypt(b *testing.B) {
	for _, st := range lbStates() {
		for _, sz := range lbSizes {
			b.Run(st.name+"/"+sz.name, func(b *testing.B) {
				it := newLBItem(sz.n)
				h := sha512.New384()
				b.ReportAllocs()
				b.SetBytes(int64(sz.n))
				for b.Loop() {
					st.s.encrypt(it, h)
				}
			})
		}
	}
}

func BenchmarkDBESDKLowerBoundDecrypt(b *testing.B) {
	for _, st := range lbStates() {
		for _, sz := range lbSizes {
			b.Run(st.name+"/"+sz.name, func(b *testing.B) {
				it := newLBItem(sz.n)
				h := sha512.New384()
				k := st.s.encrypt(it, h)
				if pt, err := st.s.decrypt(it, k, h); err != nil || !bytes.Equal(pt, it.encValue) {
					b.Fatalf("lower bound does not round-trip: %v", err)
				}
				b.ReportAllocs()
				b.SetBytes(int64(sz.n))
				for b.Loop() {
					if _, err := st.s.decrypt(it, k, h); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestDBESDKLowerBoundRoundTrip keeps the lower bound honest: it decrypts
// what it encrypts and notices a changed footer, header or field.
func TestDBESDKLowerBoundRoundTrip(t *testing.T) {
	for _, st := range lbStates() {
		it := newLBItem(100)
		h := sha512.New384()
		k := st.s.encrypt(it, h)
		if pt, err := st.s.decrypt(it, k, h); err != nil || !bytes.Equal(pt, it.encValue) {
			t.Fatalf("%s: round trip: %v", st.name, err)
		}
		if st.s.signed && len(k.footer) != 48+103 {
			t.Errorf("%s: footer is %d bytes, want 151", st.name, len(k.footer))
		}
		for name, mutate := range map[string]func(k *lbItemKeys){
			"footer": func(k *lbItemKeys) { k.footer = bytes.Clone(k.footer); k.footer[0] ^= 1 },
			"header": func(k *lbItemKeys) { k.header = bytes.Clone(k.header); k.header[40] ^= 1 },
			"field":  func(k *lbItemKeys) { k.stored = bytes.Clone(k.stored); k.stored[5] ^= 1 },
		} {
			m := k
			mutate(&m)
			if _, err := st.s.decrypt(it, m, h); err == nil {
				t.Errorf("%s: changed %s accepted", st.name, name)
			}
		}
	}
}
