package dbesdk

import (
	"crypto/cipher"
	"crypto/sha512"
	"encoding/binary"
	"hash"
	"sync"
)

// hmacState is HMAC (RFC 2104) over reusable hash states, so that an item's
// HKDF derivations, commitment and recipient tags allocate nothing. It
// produces the bytes crypto/hmac does (keys here are at most a block long;
// longer keys are hashed first, as RFC 2104 says).
type hmacState struct {
	inner, outer hash.Hash
	ipad, opad   [128]byte
	sum          [64]byte
}

func newHMACState(h func() hash.Hash) hmacState {
	return hmacState{inner: h(), outer: h()}
}

// init keys the state; after it, write the message to m.inner.
func (m *hmacState) init(key []byte) {
	bs := m.inner.BlockSize()
	clear(m.ipad[:bs])
	if len(key) > bs {
		m.outer.Reset()
		m.outer.Write(key)
		key = m.outer.Sum(m.sum[:0])
	}
	copy(m.ipad[:bs], key)
	for i := range bs {
		m.opad[i] = m.ipad[i] ^ 0x5c
		m.ipad[i] ^= 0x36
	}
	m.inner.Reset()
	m.inner.Write(m.ipad[:bs])
}

// finish returns the MAC of what was written since init. The result is
// valid until the state is used again.
func (m *hmacState) finish() []byte {
	in := m.inner.Sum(m.sum[:0])
	m.outer.Reset()
	m.outer.Write(m.opad[:m.inner.BlockSize()])
	m.outer.Write(in)
	return m.outer.Sum(m.sum[:0])
}

// scratch is the per-operation working state: hash states, key buffers and
// a growing buffer for serialized fields. It is pooled.
type scratch struct {
	h512   hmacState // HMAC-SHA512: HKDF and the commitment
	h384   hmacState // HMAC-SHA384: recipient tags
	canon  hash.Hash // SHA-384 of the canonical record
	prk    [64]byte
	keys   [4][KeyLen]byte // derived keys
	ks     [48]byte        // field key stream
	info   [64]byte
	u      [16]byte
	msgID  [msgIDLen]byte
	digest [48]byte
	path   []byte // canonical path of the field being encrypted
	arena  []byte // serialized signed fields (type id ‖ value each)
	rec    []byte // small parts of the canonical record, before hashing
	ctx    []byte // serialized encryption context
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{
		h512:  newHMACState(sha512.New),
		h384:  newHMACState(sha512.New384),
		canon: sha512.New384(),
		rec:   make([]byte, 0, 512),
	}
}}

// maxPooledArena bounds the serialized-field buffer a pooled scratch keeps.
const maxPooledArena = 1 << 20

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(s *scratch) {
	clear(s.prk[:])
	for i := range s.keys {
		clear(s.keys[i][:])
	}
	clear(s.ks[:])
	clear(s.h512.sum[:])
	clear(s.h384.sum[:])
	clear(s.arena)
	clear(s.msgID[:])
	if cap(s.arena) > maxPooledArena {
		s.arena = nil
	}
	s.arena, s.rec, s.ctx, s.path = s.arena[:0], s.rec[:0], s.ctx[:0], s.path[:0]
	scratchPool.Put(s)
}

// extract is HKDF-Extract with SHA-512 and no salt (RFC 5869 §2.2: a
// HashLen string of zeros) into s.prk.
func (s *scratch) extract(ikm []byte) []byte {
	s.h512.init(nil)
	s.h512.inner.Write(ikm)
	return append(s.prk[:0], s.h512.finish()...)
}

// expand32 is HKDF-Expand with SHA-512 for 32 bytes (one block: T(1) =
// HMAC(prk, info ‖ 0x01)) into dst.
func (s *scratch) expand32(dst *[KeyLen]byte, prk []byte, label string, msgID []byte) []byte {
	s.h512.init(prk)
	info := append(append(append(s.info[:0], label...), msgID...), 1)
	s.h512.inner.Write(info)
	copy(dst[:], s.h512.finish())
	return dst[:]
}

// fieldKeyStream is docs/dbesdk-format.md §5.3: the AES-256-CTR key stream
// under the field root key at counter "AwsDbeField" ‖ 0x2C ‖ u32(3·offset),
// one AES block per 16 bytes.
func (s *scratch) fieldKeyStream(b cipher.Block, offset int) (key, nonce []byte) {
	ctr := &s.u
	copy(ctr[:], "AwsDbeField")
	ctr[11] = 0x2C
	binary.BigEndian.PutUint32(ctr[12:], uint32(3*offset))
	for i := 0; i < len(s.ks); i += 16 {
		b.Encrypt(s.ks[i:i+16], ctr[:])
		for j := 15; j >= 0; j-- { // 128-bit big-endian increment, as cipher.NewCTR does
			ctr[j]++
			if ctr[j] != 0 {
				break
			}
		}
	}
	return s.ks[:32], s.ks[32:44]
}
