package legacy

// The material description stored in *amzn-ddb-map-desc*
// (docs/legacy-format.md §2.2): u32(0) then LV(key) LV(value) pairs. Error
// texts keep the "matdesc:" prefix of the package they came from.

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"
)

// Well-known entries (docs/legacy-format.md §2.3).
const (
	SymMode          = "amzn-ddb-map-sym-mode"
	SigningAlgorithm = "amzn-ddb-map-signingAlg"
	EnvelopeKey      = "amzn-ddb-env-key"
	ContentKeyAlg    = "amzn-ddb-env-alg"
	WrapAlgorithm    = "amzn-ddb-wrap-alg"
	MACAlgorithm     = "amzn-ddb-sig-alg"
	KMSContextAttr   = "aws-kms-ec-attr"
	MetaID           = "amzn-ddb-meta-id"

	// SymModeCBC is the only symmetric mode either legacy client writes.
	SymModeCBC = "/CBC/PKCS5Padding"
)

var (
	// ErrDescriptionVersion reports a description whose format version is not 0.
	ErrDescriptionVersion = errors.New("matdesc: unsupported material description version")
	// ErrMalformedDescription reports a truncated or otherwise invalid description.
	ErrMalformedDescription = errors.New("matdesc: malformed material description")
)

// SerializeDescription encodes a description with keys sorted by code point, as the
// Python client and the vectors do.
func SerializeDescription(d map[string]string) []byte {
	keys := make([]string, 0, len(d))
	n := 4
	for k, v := range d {
		keys = append(keys, k)
		n += 8 + len(k) + len(v)
	}
	slices.Sort(keys)
	out := make([]byte, 4, n)
	for _, k := range keys {
		out = binary.BigEndian.AppendUint32(out, uint32(len(k)))
		out = append(out, k...)
		v := d[k]
		out = binary.BigEndian.AppendUint32(out, uint32(len(v)))
		out = append(out, v...)
	}
	return out
}

// ParseDescription decodes a description. Pairs may come in any order; a repeated key
// keeps its last value, as both legacy clients do.
func ParseDescription(b []byte) (map[string]string, error) {
	if len(b) < 4 {
		return nil, ErrMalformedDescription
	}
	if binary.BigEndian.Uint32(b) != 0 {
		return nil, ErrDescriptionVersion
	}
	out := map[string]string{}
	rest := b[4:]
	next := func() (string, bool) {
		if len(rest) < 4 {
			return "", false
		}
		n := binary.BigEndian.Uint32(rest)
		if uint64(n) > uint64(len(rest)-4) {
			return "", false
		}
		s := rest[4 : 4+n]
		rest = rest[4+n:]
		if !utf8.Valid(s) {
			return "", false
		}
		return string(s), true
	}
	for len(rest) > 0 {
		k, ok := next()
		if !ok {
			return nil, ErrMalformedDescription
		}
		v, ok := next()
		if !ok {
			return nil, ErrMalformedDescription
		}
		out[k] = v
	}
	return out, nil
}

// DecodeEnvelopeKey decodes the base64 of an amzn-ddb-env-key entry. Old Java
// clients wrote it MIME style, with line breaks, so characters outside the
// standard alphabet are ignored (docs/legacy-format.md §2.3).
func DecodeEnvelopeKey(s string) ([]byte, error) {
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '+', r == '/', r == '=':
			return r
		}
		return -1
	}, s)
	return base64.StdEncoding.DecodeString(clean)
}
