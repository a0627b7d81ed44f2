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
	stored  map[string]string
	edks    []EDK
	commit  []byte
	raw     []byte // the whole attribute value
	partial []byte // raw without the commitment
}

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
	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := binary.BigEndian.AppendUint16(nil, uint16(len(keys)))
	for _, k := range keys {
		b = lv16(b, []byte(k))
		b = lv16(b, []byte(ec[k]))
	}
	return b
}

func lv16(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// partialHeader writes everything before the commitment.
func (h *header) writePartial() []byte {
	b := []byte{h.version, h.flavor}
	b = append(b, h.msgID...)
	b = lv16(b, h.legend)
	b = append(b, headerContext(h.stored)...)
	b = append(b, byte(len(h.edks)))
	for _, e := range h.edks {
		b = lv16(b, []byte(e.ProviderID))
		b = lv16(b, e.ProviderInfo)
		b = lv16(b, e.Ciphertext)
	}
	return b
}

// parseHeader is docs/dbesdk-format.md §6.3.
func parseHeader(raw []byte) (*header, error) {
	r := &reader{b: raw}
	h := &header{raw: raw}
	h.version = r.u8()
	if r.bad {
		return nil, malformed("empty header")
	}
	if h.version != 1 && h.version != 2 {
		return nil, malformed("header has unexpected version %d", h.version)
	}
	h.flavor = r.u8()
	if !r.bad && h.flavor > 1 {
		return nil, malformed("invalid flavor")
	}
	h.msgID = r.take(msgIDLen)
	h.legend = r.take(int(r.u16()))
	for _, c := range h.legend {
		if c != legendEncrypt && c != legendSign && c != legendContext {
			return nil, malformed("invalid byte in stored legend")
		}
	}
	n := int(r.u16())
	h.stored = make(map[string]string, min(n, 64))
	prev := ""
	for i := 0; i < n && !r.bad; i++ {
		k := r.take(int(r.u16()))
		v := r.take(int(r.u16()))
		if r.bad {
			break
		}
		if !utf8.Valid(k) || !utf8.Valid(v) {
			return nil, malformed("stored encryption context is not valid UTF-8")
		}
		if i > 0 && string(k) <= prev {
			return nil, malformed("stored encryption context keys out of order")
		}
		prev = string(k)
		h.stored[prev] = string(v)
	}
	count := int(r.u8())
	if !r.bad && count == 0 {
		return nil, malformed("header has no encrypted data keys")
	}
	for i := 0; i < count && !r.bad; i++ {
		id := r.take(int(r.u16()))
		info := r.take(int(r.u16()))
		ct := r.take(int(r.u16()))
		if r.bad {
			break
		}
		if !utf8.Valid(id) {
			return nil, malformed("provider id is not valid UTF-8")
		}
		h.edks = append(h.edks, EDK{ProviderID: string(id), ProviderInfo: slices.Clone(info), Ciphertext: slices.Clone(ct)})
	}
	if r.bad {
		return nil, malformed("invalid header serialization: unexpected end of data")
	}
	if len(r.b) != commitLen {
		if len(r.b) < commitLen {
			return nil, malformed("invalid header serialization: unexpected end of data")
		}
		return nil, malformed("invalid header serialization: unexpected bytes")
	}
	h.commit = r.b
	h.partial = raw[:len(raw)-commitLen]
	return h, nil
}
