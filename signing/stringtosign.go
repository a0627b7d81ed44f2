package signing

import (
	"crypto/sha256"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
)

var (
	digestEncrypted = sha256.Sum256([]byte("ENCRYPTED"))
	digestPlaintext = sha256.Sum256([]byte("PLAINTEXT"))
)

// AttributeError names the attribute whose value could not be serialized.
type AttributeError struct {
	Attribute string
	Err       error
}

func (e *AttributeError) Error() string {
	return "attribute " + strconv.Quote(e.Attribute) + ": " + e.Err.Error()
}
func (e *AttributeError) Unwrap() error { return e.Err }

// StringToSign computes the string to sign of an item as stored, i.e. with
// encrypted attributes holding their ciphertext (spec §4.1). action gives each
// attribute's action; do-nothing attributes and the two reserved attributes are
// skipped. Serialization errors are *AttributeError.
//
// Under PythonOrdering a signed plaintext number that the Python client's
// rule would not hash exactly — more than 28 significant digits, or negative
// zero — is an error (ErrUnsupportedValue): rounding would leave the digits
// after the 28th unprotected, and DynamoDB stores -0 as 0. Use
// StringToSignLegacyPython to read legacy items that need the rounding.
func StringToSign(table string, item map[string]types.AttributeValue, action func(name string) actions.Action, o Ordering) ([]byte, error) {
	s := serializer{ord: o}
	if o == PythonOrdering {
		s.nums = pythonExactNumbers
	}
	return s.stringToSign(table, item, action)
}

// StringToSignLegacyPython computes the string to sign exactly as the legacy
// Python client does, rounding signed numbers of more than 28 significant
// digits half-to-even (spec §8.2). Two stored numbers that differ only after
// their 28th digit give the same string to sign, so use it only to read
// legacy Python items that cannot be verified otherwise.
func StringToSignLegacyPython(table string, item map[string]types.AttributeValue, action func(name string) actions.Action) ([]byte, error) {
	return serializer{ord: PythonOrdering, nums: pythonNumbers}.stringToSign(table, item, action)
}

func (s serializer) stringToSign(table string, item map[string]types.AttributeValue, action func(name string) actions.Action) ([]byte, error) {
	names := make([]string, 0, len(item))
	for n := range item {
		if n == actions.SignatureAttribute || n == actions.MaterialDescriptionAttribute {
			continue
		}
		if action(n).Signed() {
			names = append(names, n)
		}
	}
	slices.SortFunc(names, s.ord.CompareStrings)

	out := make([]byte, 0, sha256.Size*(1+3*len(names)))
	h := sha256.New()
	h.Write([]byte("TABLE>"))
	h.Write([]byte(table))
	h.Write([]byte("<TABLE"))
	out = h.Sum(out)
	var buf []byte
	for _, n := range names {
		h.Reset()
		h.Write([]byte(n))
		out = h.Sum(out)
		if action(n) == actions.EncryptAndSign {
			out = append(out, digestEncrypted[:]...)
		} else {
			out = append(out, digestPlaintext[:]...)
		}
		var err error
		buf, err = s.append(buf[:0], item[n], 0)
		if err != nil {
			return nil, &AttributeError{Attribute: n, Err: err}
		}
		h.Reset()
		h.Write(buf)
		out = h.Sum(out)
	}
	return out, nil
}
