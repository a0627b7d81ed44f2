package dbesdk

import (
	"encoding/binary"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Type ids of terminals (docs/dbesdk-format.md §2.1).
const (
	typeNull uint16 = 0x0000
	typeS    uint16 = 0x0001
	typeN    uint16 = 0x0002
	typeBool uint16 = 0x0004
	typeSS   uint16 = 0x0101
	typeNS   uint16 = 0x0102
	typeBS   uint16 = 0x01FF
	typeM    uint16 = 0x0200
	typeL    uint16 = 0x0300
	typeB    uint16 = 0xFFFF
)

// maxDepth is the nesting limit of docs/dbesdk-format.md §2.2.
const maxDepth = 32

// terminal is one serialized top-level attribute (docs/dbesdk-format.md §2).
type terminal struct {
	typ uint16
	val []byte
}

// bytes returns type id ‖ value.
func (t terminal) bytes() []byte {
	return append(binary.BigEndian.AppendUint16(nil, t.typ), t.val...)
}

// compareUTF16 orders strings by UTF-16 code units (docs/dbesdk-format.md §2.7).
// It decodes as []rune does (invalid bytes are U+FFFD) and compares the code
// units utf16.Encode would produce, without allocating.
func compareUTF16(a, b string) int {
	var ua, ub [2]uint16
	var na, nb, ia, ib int // buffered units and their read positions
	for {
		if ia == na {
			if len(a) == 0 {
				ia, na = 0, -1
			} else {
				r, n := utf8.DecodeRuneInString(a)
				a = a[n:]
				ua, na, ia = utf16Units(r), 1, 0
				if r >= 0x10000 && r <= utf8.MaxRune {
					na = 2
				}
			}
		}
		if ib == nb {
			if len(b) == 0 {
				ib, nb = 0, -1
			} else {
				r, n := utf8.DecodeRuneInString(b)
				b = b[n:]
				ub, nb, ib = utf16Units(r), 1, 0
				if r >= 0x10000 && r <= utf8.MaxRune {
					nb = 2
				}
			}
		}
		switch {
		case na < 0 && nb < 0:
			return 0
		case na < 0:
			return -1
		case nb < 0:
			return 1
		}
		if ua[ia] != ub[ib] {
			if ua[ia] < ub[ib] {
				return -1
			}
			return 1
		}
		ia++
		ib++
	}
}

// utf16Units is the UTF-16 encoding of r, as utf16.Encode writes it.
func utf16Units(r rune) [2]uint16 {
	switch {
	case r < 0 || r > utf8.MaxRune || (r >= 0xD800 && r < 0xE000):
		return [2]uint16{0xFFFD}
	case r < 0x10000:
		return [2]uint16{uint16(r)}
	}
	r1, r2 := utf16.EncodeRune(r)
	return [2]uint16{uint16(r1), uint16(r2)}
}

// utf16Len is the length of s in UTF-16 code units (docs/dbesdk-format.md §3.1).
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// serialize turns a value into a terminal (docs/dbesdk-format.md §2.2).
func serialize(av types.AttributeValue) (terminal, error) {
	typ, val, err := appendValue(nil, av, 1)
	if err != nil {
		return terminal{}, err
	}
	return terminal{typ, val}, nil
}

// appendValue appends the serialized value of av (without its type id) to
// dst and returns its type id.
func appendValue(dst []byte, av types.AttributeValue, depth int) (uint16, []byte, error) {
	if depth > maxDepth {
		return 0, dst, errf(KindInvalidItem, "", "nesting deeper than %d", maxDepth)
	}
	switch v := av.(type) {
	case *types.AttributeValueMemberNULL:
		return typeNull, dst, nil
	case *types.AttributeValueMemberS:
		if !utf8.ValidString(v.Value) {
			return 0, dst, errf(KindInvalidItem, "", "string is not valid UTF-8")
		}
		return typeS, append(dst, v.Value...), nil
	case *types.AttributeValueMemberN:
		out, err := appendNumber(dst, v.Value)
		return typeN, out, err
	case *types.AttributeValueMemberBOOL:
		if v.Value {
			return typeBool, append(dst, 1), nil
		}
		return typeBool, append(dst, 0), nil
	case *types.AttributeValueMemberB:
		return typeB, append(dst, v.Value...), nil
	case *types.AttributeValueMemberSS:
		for _, s := range v.Value {
			if !utf8.ValidString(s) {
				return 0, dst, errf(KindInvalidItem, "", "string set element is not valid UTF-8")
			}
		}
		el := slices.Clone(v.Value)
		slices.SortFunc(el, compareUTF16)
		return appendSet(dst, typeSS, el)
	case *types.AttributeValueMemberNS:
		el := make([]string, len(v.Value))
		for i, s := range v.Value {
			n, err := NormalizeNumber(s)
			if err != nil {
				return 0, dst, err
			}
			el[i] = n
		}
		slices.SortFunc(el, compareUTF16)
		return appendSet(dst, typeNS, el)
	case *types.AttributeValueMemberBS:
		el := make([]string, len(v.Value))
		for i, b := range v.Value {
			el[i] = string(b)
		}
		slices.Sort(el) // unsigned bytes, a proper prefix first
		return appendSet(dst, typeBS, el)
	case *types.AttributeValueMemberM:
		var kb [8]string
		keys := kb[:0]
		for k := range v.Value {
			if len(k) == 0 || len(k) > 65535 || !utf8.ValidString(k) {
				return 0, dst, errf(KindInvalidItem, "", "map key must be 1 to 65535 bytes of UTF-8")
			}
			keys = append(keys, k)
		}
		slices.SortFunc(keys, compareUTF16)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(keys)))
		for _, k := range keys {
			dst = binary.BigEndian.AppendUint16(dst, typeS)
			dst = binary.BigEndian.AppendUint32(dst, uint32(len(k)))
			dst = append(dst, k...)
			var err error
			if dst, err = appendElement(dst, v.Value[k], depth+1); err != nil {
				return 0, dst, err
			}
		}
		return typeM, dst, nil
	case *types.AttributeValueMemberL:
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(v.Value)))
		for _, e := range v.Value {
			var err error
			if dst, err = appendElement(dst, e, depth+1); err != nil {
				return 0, dst, err
			}
		}
		return typeL, dst, nil
	case nil:
		return 0, dst, errf(KindInvalidItem, "", "nil attribute value")
	}
	return 0, dst, errf(KindInvalidItem, "", "unsupported attribute value type %T", av)
}

// appendElement appends a nested value as type id ‖ u32 length ‖ value.
func appendElement(dst []byte, av types.AttributeValue, depth int) ([]byte, error) {
	at := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0)
	typ, dst, err := appendValue(dst, av, depth)
	if err != nil {
		return dst, err
	}
	binary.BigEndian.PutUint16(dst[at:], typ)
	binary.BigEndian.PutUint32(dst[at+2:], uint32(len(dst)-at-6))
	return dst, nil
}

// appendSet writes sorted set elements, rejecting duplicates.
func appendSet(dst []byte, typ uint16, sorted []string) (uint16, []byte, error) {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(sorted)))
	for i, s := range sorted {
		if i > 0 && sorted[i-1] == s {
			return 0, dst, errf(KindInvalidItem, "", "set has duplicate elements")
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
		dst = append(dst, s...)
	}
	return typ, dst, nil
}

// reader reads big-endian fields; a short read sets bad.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) take(n int) []byte {
	if r.bad || n < 0 || n > len(r.b) {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() byte {
	b := r.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) u16() uint16 {
	b := r.take(2)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

func (r *reader) u32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func malformed(format string, args ...any) *Error { return errf(KindMalformed, "", format, args...) }

// parseTerminal turns a terminal back into a value (docs/dbesdk-format.md §2.8).
func parseTerminal(t terminal) (types.AttributeValue, error) {
	return parseAt(t.typ, t.val, 1, false)
}

// parseAt parses a value; with own set, binary values alias val (which the
// caller gives away) instead of copying it.
func parseAt(typ uint16, val []byte, depth int, own bool) (types.AttributeValue, error) {
	if depth > maxDepth {
		return nil, malformed("nesting deeper than %d", maxDepth)
	}
	switch typ {
	case typeNull:
		if len(val) != 0 {
			return nil, malformed("NULL value is not empty")
		}
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case typeS:
		if !utf8.Valid(val) {
			return nil, malformed("string is not valid UTF-8")
		}
		return &types.AttributeValueMemberS{Value: string(val)}, nil
	case typeN:
		if !utf8.Valid(val) {
			return nil, malformed("number is not valid UTF-8")
		}
		return &types.AttributeValueMemberN{Value: string(val)}, nil
	case typeBool:
		if len(val) != 1 || val[0] > 1 {
			return nil, malformed("invalid boolean")
		}
		return &types.AttributeValueMemberBOOL{Value: val[0] == 1}, nil
	case typeB:
		if own {
			return &types.AttributeValueMemberB{Value: val[:len(val):len(val)]}, nil
		}
		return &types.AttributeValueMemberB{Value: slices.Clone(val)}, nil
	case typeSS, typeNS, typeBS:
		r := &reader{b: val}
		n := r.u32()
		var el [][]byte
		seen := map[string]bool{}
		for i := uint32(0); i < n && !r.bad; i++ {
			e := r.take(int(r.u32()))
			if r.bad {
				break
			}
			if seen[string(e)] {
				return nil, malformed("set has duplicate elements")
			}
			seen[string(e)] = true
			if typ != typeBS && !utf8.Valid(e) {
				return nil, malformed("set element is not valid UTF-8")
			}
			el = append(el, e)
		}
		if r.bad || len(r.b) != 0 {
			return nil, malformed("invalid set serialization")
		}
		switch typ {
		case typeSS:
			s := make([]string, len(el))
			for i, e := range el {
				s[i] = string(e)
			}
			return &types.AttributeValueMemberSS{Value: s}, nil
		case typeNS:
			s := make([]string, len(el))
			for i, e := range el {
				s[i] = string(e)
			}
			return &types.AttributeValueMemberNS{Value: s}, nil
		}
		bs := make([][]byte, len(el))
		for i, e := range el {
			if own {
				bs[i] = e[:len(e):len(e)]
			} else {
				bs[i] = slices.Clone(e)
			}
		}
		return &types.AttributeValueMemberBS{Value: bs}, nil
	case typeM:
		r := &reader{b: val}
		n := r.u32()
		m := make(map[string]types.AttributeValue, min(int(n), len(r.b)/13))
		for i := uint32(0); i < n && !r.bad; i++ {
			if kt := r.u16(); kt != typeS && !r.bad {
				return nil, malformed("map key is not a string")
			}
			kl := r.u32()
			if !r.bad && (kl == 0 || kl > 65535) {
				return nil, malformed("map key length out of range")
			}
			k := r.take(int(kl))
			vt := r.u16()
			vv := r.take(int(r.u32()))
			if r.bad {
				break
			}
			if !utf8.Valid(k) {
				return nil, malformed("map key is not valid UTF-8")
			}
			if _, dup := m[string(k)]; dup {
				return nil, malformed("duplicate map key")
			}
			v, err := parseAt(vt, vv, depth+1, own)
			if err != nil {
				return nil, err
			}
			m[string(k)] = v
		}
		if r.bad || len(r.b) != 0 {
			return nil, malformed("invalid map serialization")
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	case typeL:
		r := &reader{b: val}
		n := r.u32()
		l := make([]types.AttributeValue, 0, min(int(n), len(r.b)/6))
		for i := uint32(0); i < n && !r.bad; i++ {
			vt := r.u16()
			vv := r.take(int(r.u32()))
			if r.bad {
				break
			}
			v, err := parseAt(vt, vv, depth+1, own)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		if r.bad || len(r.b) != 0 {
			return nil, malformed("invalid list serialization")
		}
		if l == nil {
			l = []types.AttributeValue{}
		}
		return &types.AttributeValueMemberL{Value: l}, nil
	}
	return nil, malformed("unknown type id %04x", typ)
}

// canonPath is the canonical path of a top-level attribute
// (docs/dbesdk-format.md §3.1).
func canonPath(table, name string) []byte {
	b := append([]byte(table), 0, 0, 0, 0, 0, 0, 0, 1, '$')
	b = binary.BigEndian.AppendUint64(b, uint64(utf16Len(name)))
	return append(b, name...)
}

// sortFields orders signed field names by canonical path
// (docs/dbesdk-format.md §3.2): UTF-16 length, then UTF-8 bytes.
func sortFields(names []string) { slices.SortFunc(names, compareFieldNames) }

// compareFieldNames compares the canonical paths of two names.
func compareFieldNames(a, b string) int {
	if la, lb := utf16Len(a), utf16Len(b); la != lb {
		return la - lb
	}
	return strings.Compare(a, b)
}
