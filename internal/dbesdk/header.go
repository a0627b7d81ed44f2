package dbesdk

import (
	"encoding/binary"
	"slices"
	"unicode/utf8"
)

// EDK is an encrypted data key as stored in the header.
type EDK struct {
	ProviderID   string
	ProviderInfo []byte
	Ciphertext   []byte
}

// Legend bytes (docs/dbesdk-format.md §1.2).
const (
	legendEncrypt = 'e'
	legendSign    = 's'
	legendContext = 'c'
)

// header is a parsed aws_dbe_head (docs/dbesdk-format.md §6.2).
type header struct {
	version byte
	flavor  byte
	msgID   []byte
	legend  []byte
	stored  []kv // stored encryption context, in key order
	edks    []EDK
	commit  []byte
	raw     []byte // the whole attribute value
	partial []byte // raw without the commitment
}

// kv is one encryption-context entry.
type kv struct{ k, v string }

func (h *header) suite() Suite { return Suite(0x6700 | uint16(h.flavor)) }

// SerializeContext is the MPL canonical ("keyring") form of an encryption
// context (docs/dbesdk-format.md §4.6): empty for an empty context.
func SerializeContext(ec map[string]string) []byte {
	if len(ec) == 0 {
		return nil
	}
	return headerContext(ec)
}

// headerContext is the header form (docs/dbesdk-format.md §4.6): u16 count,
// then LV16 key ‖ LV16 value in UTF-8 byte order of the keys.
func headerContext(ec map[string]string) []byte {
	return appendContext(nil, ec)
}

// AppendContext appends the MPL canonical form of ec (SerializeContext) to
// dst.
func AppendContext(dst []byte, ec map[string]string) []byte {
	if len(ec) == 0 {
		return dst
	}
	return appendContext(dst, ec)
}

// appendContext appends the header form of ec to dst.
func appendContext(dst []byte, ec map[string]string) []byte {
	var kb [16]string
	keys := kb[:0]
	for k := range ec {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(keys)))
	for _, k := range keys {
		dst = lv16s(dst, k)
		dst = lv16s(dst, ec[k])
	}
	return dst
}

func lv16(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

func lv16s(b []byte, v string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// partialLen is the length of what writePartial writes.
func (h *header) partialLen() int {
	n := 2 + len(h.msgID) + 2 + len(h.legend) + 2 + 1
	for _, e := range h.stored {
		n += 4 + len(e.k) + len(e.v)
	}
	for _, e := range h.edks {
		n += 6 + len(e.ProviderID) + len(e.ProviderInfo) + len(e.Ciphertext)
	}
	return n
}

// appendPartial appends everything before the commitment.
func (h *header) appendPartial(b []byte) []byte {
	b = append(b, h.version, h.flavor)
	b = append(b, h.msgID...)
	b = lv16(b, h.legend)
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.stored)))
	for _, e := range h.stored {
		b = lv16s(b, e.k)
		b = lv16s(b, e.v)
	}
	b = append(b, byte(len(h.edks)))
	for _, e := range h.edks {
		b = lv16s(b, e.ProviderID)
		b = lv16(b, e.ProviderInfo)
		b = lv16(b, e.Ciphertext)
	}
	return b
}

// writePartial writes everything before the commitment.
func (h *header) writePartial() []byte { return h.appendPartial(make([]byte, 0, h.partialLen())) }

// parseHeader is docs/dbesdk-format.md §6.3. The header does not alias raw.
func parseHeader(raw []byte) (*header, error) {
	h := &header{}
	if err := h.parse(slices.Clone(raw)); err != nil {
		return nil, err
	}
	return h, nil
}

// parse is docs/dbesdk-format.md §6.3. The header aliases raw, which the
// caller owns.
func (h *header) parse(raw []byte) error {
	r := &reader{b: raw}
	*h = header{raw: raw}
	h.version = r.u8()
	if r.bad {
		return malformed("empty header")
	}
	if h.version != 1 && h.version != 2 {
		return malformed("header has unexpected version %d", h.version)
	}
	h.flavor = r.u8()
	if !r.bad && h.flavor > 1 {
		return malformed("invalid flavor")
	}
	h.msgID = r.take(msgIDLen)
	h.legend = r.take(int(r.u16()))
	for _, c := range h.legend {
		if c != legendEncrypt && c != legendSign && c != legendContext {
			return malformed("invalid byte in stored legend")
		}
	}
	n := int(r.u16())
	if n > 0 {
		h.stored = make([]kv, 0, min(n, len(r.b)/4))
	}
	var prev []byte
	for i := 0; i < n && !r.bad; i++ {
		k := r.take(int(r.u16()))
		v := r.take(int(r.u16()))
		if r.bad {
			break
		}
		if !utf8.Valid(k) || !utf8.Valid(v) {
			return malformed("stored encryption context is not valid UTF-8")
		}
		if i > 0 && string(k) <= string(prev) {
			return malformed("stored encryption context keys out of order")
		}
		prev = k
		e := kv{v: string(v)}
		if string(k) == ECPublicKey {
			e.k = ECPublicKey
		} else {
			e.k = string(k)
		}
		h.stored = append(h.stored, e)
	}
	count := int(r.u8())
	if !r.bad && count == 0 {
		return malformed("header has no encrypted data keys")
	}
	if count > 0 {
		h.edks = make([]EDK, 0, min(count, len(r.b)/6))
	}
	for i := 0; i < count && !r.bad; i++ {
		id := r.take(int(r.u16()))
		info := r.take(int(r.u16()))
		ct := r.take(int(r.u16()))
		if r.bad {
			break
		}
		if !utf8.Valid(id) {
			return malformed("provider id is not valid UTF-8")
		}
		h.edks = append(h.edks, EDK{ProviderID: string(id), ProviderInfo: info[:len(info):len(info)], Ciphertext: ct[:len(ct):len(ct)]})
	}
	if r.bad {
		return malformed("invalid header serialization: unexpected end of data")
	}
	if len(r.b) != commitLen {
		if len(r.b) < commitLen {
			return malformed("invalid header serialization: unexpected end of data")
		}
		return malformed("invalid header serialization: unexpected bytes")
	}
	h.commit = r.b
	h.partial = raw[:len(raw)-commitLen]
	return nil
}
