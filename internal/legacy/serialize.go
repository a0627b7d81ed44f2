package legacy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Ordering selects how sets, map keys and attribute names are sorted, and
// which number rule digests use (docs/legacy-format.md §8.1). The zero value
// is JavaOrdering. The public configuration is ddbenc.Ordering, which maps
// onto it.
type Ordering uint8

const (
	// JavaOrdering sorts strings by UTF-16 code units and binary set elements
	// as signed bytes, like the legacy Java client. It is the default.
	JavaOrdering Ordering = iota
	// PythonOrdering sorts strings and bytes as unsigned bytes, like the legacy
	// Python client, and uses its number rule in digests.
	PythonOrdering
)

// String returns "java" or "python".
func (o Ordering) String() string {
	if o == PythonOrdering {
		return "python"
	}
	return "java"
}

// ErrUnsupportedValue reports an attribute value that cannot be serialized:
// an unknown type, NULL false, a nil value, or an invalid number. Its message
// never contains the value.
var ErrUnsupportedValue = errors.New("signing: unsupported attribute value")

// Type tags (docs/legacy-format.md §1.1).
const (
	tagB    = 'b'
	tagN    = 'n'
	tagS    = 's'
	tagBOOL = '?'
	tagNULL = 0
	tagBS   = 'B'
	tagNS   = 'N'
	tagSS   = 'S'
	tagL    = 'L'
	tagM    = 'M'
)

// numberRule selects how numbers are rendered before serialization.
type numberRule uint8

const (
	exactNumbers       numberRule = iota // docs/legacy-format.md §1.3, always used inside ciphertexts
	pythonExactNumbers                   // docs/legacy-format.md §8.2 for PythonOrdering digests, refusing values it would change
	pythonNumbers                        // docs/legacy-format.md §8.2 with rounding: legacy Python reads only
)

type serializer struct {
	ord  Ordering
	nums numberRule
}

// Serialize returns the canonical serialization of one attribute value, the
// bytes that are encrypted for an encrypt-and-sign attribute.
func Serialize(av types.AttributeValue, o Ordering) ([]byte, error) {
	return appendSerialized(nil, av, o)
}

// appendSerialized appends the serialization of av to dst.
func appendSerialized(dst []byte, av types.AttributeValue, o Ordering) ([]byte, error) {
	return serializer{ord: o}.append(dst, av, 0)
}

// MaxDepth bounds the nesting of lists and maps: on write and read of the
// legacy format here, in the item checks of ddbenc and in the DynamoDB JSON
// reader. DynamoDB allows 32 levels.
const MaxDepth = 64

func appendU32(dst []byte, n int) []byte { return binary.BigEndian.AppendUint32(dst, uint32(n)) }

func appendLV(dst []byte, s string) []byte { return append(appendU32(dst, len(s)), s...) }

func appendLVBytes(dst []byte, b []byte) []byte { return append(appendU32(dst, len(b)), b...) }

func (s serializer) number(n string) (string, error) {
	var c string
	var err error
	switch s.nums {
	case pythonNumbers:
		c, err = pythonNumber(n)
	case pythonExactNumbers:
		c, err = pythonExactNumber(n)
	default:
		c, err = CanonicalNumber(n)
	}
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnsupportedValue, err)
	}
	return c, nil
}

func (s serializer) append(dst []byte, av types.AttributeValue, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d levels", ErrUnsupportedValue, MaxDepth)
	}
	switch v := av.(type) {
	case *types.AttributeValueMemberB:
		return appendLVBytes(append(dst, 0, tagB), v.Value), nil
	case *types.AttributeValueMemberN:
		c, err := s.number(v.Value)
		if err != nil {
			return nil, err
		}
		return appendLV(append(dst, 0, tagN), c), nil
	case *types.AttributeValueMemberS:
		return appendLV(append(dst, 0, tagS), v.Value), nil
	case *types.AttributeValueMemberBOOL:
		b := byte(0)
		if v.Value {
			b = 1
		}
		return append(dst, 0, tagBOOL, b), nil
	case *types.AttributeValueMemberNULL:
		if !v.Value {
			return nil, fmt.Errorf("%w: NULL must be true", ErrUnsupportedValue)
		}
		return append(dst, 0, tagNULL), nil
	case *types.AttributeValueMemberBS:
		els := slices.Clone(v.Value)
		slices.SortFunc(els, s.compareBytes)
		dst = appendU32(append(dst, 0, tagBS), len(els))
		for _, e := range els {
			dst = appendLVBytes(dst, e)
		}
		return dst, nil
	case *types.AttributeValueMemberNS:
		els := make([]string, len(v.Value))
		for i, n := range v.Value {
			c, err := s.number(n)
			if err != nil {
				return nil, err
			}
			els[i] = c
		}
		// Canonical numbers are ASCII: both orderings sort them by bytes.
		slices.Sort(els)
		dst = appendU32(append(dst, 0, tagNS), len(els))
		for _, e := range els {
			dst = appendLV(dst, e)
		}
		return dst, nil
	case *types.AttributeValueMemberSS:
		els := slices.Clone(v.Value)
		slices.SortFunc(els, s.ord.compareStrings)
		dst = appendU32(append(dst, 0, tagSS), len(els))
		for _, e := range els {
			dst = appendLV(dst, e)
		}
		return dst, nil
	case *types.AttributeValueMemberL:
		dst = appendU32(append(dst, 0, tagL), len(v.Value))
		for _, e := range v.Value {
			var err error
			if dst, err = s.append(dst, e, depth+1); err != nil {
				return nil, err
			}
		}
		return dst, nil
	case *types.AttributeValueMemberM:
		keys := make([]string, 0, len(v.Value))
		for k := range v.Value {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, s.ord.compareStrings)
		dst = appendU32(append(dst, 0, tagM), len(keys))
		for _, k := range keys {
			dst = appendLV(append(dst, 0, tagS), k)
			var err error
			if dst, err = s.append(dst, v.Value[k], depth+1); err != nil {
				return nil, err
			}
		}
		return dst, nil
	case nil:
		return nil, fmt.Errorf("%w: nil value", ErrUnsupportedValue)
	}
	return nil, fmt.Errorf("%w: type %T", ErrUnsupportedValue, av)
}

func (s serializer) compareBytes(a, b []byte) int {
	if s.ord == PythonOrdering {
		return slices.Compare(a, b)
	}
	return compareSigned(a, b)
}

// compareSigned is Java's ByteBuffer.compareTo: bytes compared as int8, a
// proper prefix first.
func compareSigned(a, b []byte) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			if int8(a[i]) < int8(b[i]) {
				return -1
			}
			return 1
		}
	}
	return len(a) - len(b)
}

// compareStrings compares two strings in the ordering's order: UTF-8 bytes
// (code points) for PythonOrdering, UTF-16 code units (Java's
// String.compareTo) for JavaOrdering.
func (o Ordering) compareStrings(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		return len(a) - len(b)
	}
	if o == PythonOrdering || (a[i] < 0x80 && b[i] < 0x80) {
		return int(a[i]) - int(b[i])
	}
	// Back up to the start of the differing runes and compare them as UTF-16:
	// a supplementary character's first unit is a high surrogate
	// (0xD800–0xDBFF), which sorts below the BMP characters 0xE000–0xFFFF.
	for i > 0 && !utf8.RuneStart(a[i]) {
		i--
	}
	ra, _ := utf8.DecodeRuneInString(a[i:])
	rb, _ := utf8.DecodeRuneInString(b[i:])
	sa, sb := ra > 0xFFFF, rb > 0xFFFF
	switch {
	case sa == sb:
		return int(ra) - int(rb)
	case sa: // a supplementary, b in the BMP
		if rb >= 0xE000 {
			return -1
		}
		return 1
	default:
		if ra >= 0xE000 {
			return 1
		}
		return -1
	}
}
