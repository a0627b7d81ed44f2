package legacy

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"slices"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

var (
	digestEncrypted = sha256.Sum256([]byte("ENCRYPTED"))
	digestPlaintext = sha256.Sum256([]byte("PLAINTEXT"))
)

// Treatment is how the string to sign covers one attribute. The engine maps
// its configured actions onto it; this package knows nothing of
// configuration.
type Treatment uint8

const (
	// Unsigned attributes are left out of the string to sign.
	Unsigned Treatment = iota
	// SignedPlaintext attributes are signed as "PLAINTEXT".
	SignedPlaintext
	// SignedEncrypted attributes are signed as "ENCRYPTED" (their stored value
	// is the ciphertext).
	SignedEncrypted
)

// AttributeError names the attribute whose value could not be serialized.
type AttributeError struct {
	Attribute string
	Err       error
}

// Error returns the quoted attribute name and the cause.
func (e *AttributeError) Error() string {
	return "attribute " + strconv.Quote(e.Attribute) + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *AttributeError) Unwrap() error { return e.Err }

// StringToSign computes the string to sign of an item as stored, i.e. with
// encrypted attributes holding their ciphertext (docs/legacy-format.md
// §4.1). treat gives each attribute's treatment; unsigned attributes and the
// two reserved attributes are skipped. Serialization errors are *AttributeError.
//
// Under PythonOrdering a signed plaintext number that the Python client's
// rule would not hash exactly — more than 28 significant digits, or negative
// zero — is an error (ErrUnsupportedValue): rounding would leave the digits
// after the 28th unprotected, and DynamoDB stores -0 as 0. Use
// StringToSignLegacyPython to read legacy items that need the rounding.
func StringToSign(table string, item map[string]types.AttributeValue, treat func(name string) Treatment, o Ordering) ([]byte, error) {
	s := serializer{ord: o}
	if o == PythonOrdering {
		s.nums = pythonExactNumbers
	}
	return s.stringToSign(table, item, treat)
}

// StringToSignLegacyPython computes the string to sign exactly as the legacy
// Python client does, rounding signed numbers of more than 28 significant
// digits half-to-even (docs/legacy-format.md §8.2). Two stored numbers that differ only after
// their 28th digit give the same string to sign, so use it only to read
// legacy Python items that cannot be verified otherwise.
func StringToSignLegacyPython(table string, item map[string]types.AttributeValue, treat func(name string) Treatment) ([]byte, error) {
	return serializer{ord: PythonOrdering, nums: pythonNumbers}.stringToSign(table, item, treat)
}

// scratch is a hasher and a buffer reused across calls: hash.Hash has no
// WriteString, so strings are copied into buf rather than converted anew.
type scratch struct {
	h   hash.Hash
	buf []byte
}

var scratchPool = sync.Pool{New: func() any { return &scratch{h: sha256.New()} }}

func (sc *scratch) sumString(out []byte, parts ...string) []byte {
	sc.h.Reset()
	sc.buf = sc.buf[:0]
	for _, p := range parts {
		sc.buf = append(sc.buf, p...)
	}
	sc.h.Write(sc.buf)
	return sc.h.Sum(out)
}

func (s serializer) stringToSign(table string, item map[string]types.AttributeValue, treat func(name string) Treatment) ([]byte, error) {
	names := make([]string, 0, len(item))
	for n := range item {
		if IsReserved(n) {
			continue
		}
		if treat(n) != Unsigned {
			names = append(names, n)
		}
	}
	slices.SortFunc(names, s.ord.compareStrings)

	out := make([]byte, 0, sha256.Size*(1+3*len(names)))
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	out = sc.sumString(out, "TABLE>", table, "<TABLE")
	for _, n := range names {
		out = sc.sumString(out, n)
		if treat(n) == SignedEncrypted {
			out = append(out, digestEncrypted[:]...)
		} else {
			out = append(out, digestPlaintext[:]...)
		}
		sc.h.Reset()
		if err := s.hash(sc, item[n]); err != nil {
			return nil, &AttributeError{Attribute: n, Err: err}
		}
		out = sc.h.Sum(out)
	}
	return out, nil
}

// hash writes the serialization of av to sc.h. Binaries, often the large
// values, are written straight from the value; other types are serialized
// into sc.buf first.
func (s serializer) hash(sc *scratch, av types.AttributeValue) error {
	if v, ok := av.(*types.AttributeValueMemberB); ok {
		sc.buf = binary.BigEndian.AppendUint32(append(sc.buf[:0], 0, tagB), uint32(len(v.Value)))
		sc.h.Write(sc.buf)
		sc.h.Write(v.Value)
		return nil
	}
	var err error
	if sc.buf, err = s.append(sc.buf[:0], av, 0); err != nil {
		return err
	}
	sc.h.Write(sc.buf)
	return nil
}
