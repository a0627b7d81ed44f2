package ddbjson

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/internal/legacy"
)

// maxDepth bounds nesting as the serializer does; DynamoDB allows 32 levels.
const maxDepth = legacy.MaxDepth

// UnmarshalItem parses one item: a JSON object of attribute values.
func UnmarshalItem(data []byte) (map[string]types.AttributeValue, error) {
	raw, err := object(data)
	if err != nil {
		return nil, err
	}
	return itemFromRaw(raw, data)
}

// object parses a top-level JSON object. Problems name byte offsets, never
// the input's characters.
func object(data []byte) (map[string]json.RawMessage, error) {
	var raw map[string]json.RawMessage
	if err := strictUnmarshal(data, &raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, &Error{Kind: ErrSyntax, Problem: fmt.Sprintf("not valid JSON (at byte %d)", se.Offset)}
		}
		return nil, &Error{Kind: ErrSyntax, Problem: "item is not a JSON object"}
	}
	if raw == nil {
		return nil, &Error{Kind: ErrSyntax, Problem: "item is null"}
	}
	return raw, nil
}

// UnmarshalValue parses one attribute value, e.g. {"N": "5"}.
func UnmarshalValue(data []byte) (types.AttributeValue, error) {
	if !validStrings(data) {
		return nil, loc{}.err("a string is not valid UTF-8")
	}
	return value(data, loc{}, 0)
}

// itemFromRaw converts the top-level attributes; whole is the item's JSON,
// checked for strings that JSON decoding would silently alter.
func itemFromRaw(raw map[string]json.RawMessage, whole []byte) (map[string]types.AttributeValue, error) {
	out := make(map[string]types.AttributeValue, len(raw))
	// In name order, so that the error for an item is always the same.
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		r := raw[name]
		l := loc{attr: name}
		if !validStrings(r) {
			return nil, l.err("a string is not valid UTF-8 (or has an unpaired surrogate escape)")
		}
		v, err := value(r, l, 0)
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	if !validStrings(whole) {
		// Every value is valid: an attribute name is not, and decoding
		// already replaced its bad bytes, so it cannot be named.
		return nil, &Error{Kind: ErrSyntax, Problem: "an attribute name is not valid UTF-8 (or has an unpaired surrogate escape)"}
	}
	return out, nil
}

func strictUnmarshal(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data")
	}
	return nil
}

// DecodeBase64 decodes a binary value as DynamoDB JSON (and the vector
// files) carry it: standard base64, padded, nothing outside the alphabet.
func DecodeBase64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

// typeKeys are the type keys of DynamoDB JSON.
var typeKeys = map[string]bool{"S": true, "N": true, "B": true, "BOOL": true, "NULL": true, "SS": true, "NS": true, "BS": true, "L": true, "M": true}

func value(data []byte, l loc, depth int) (types.AttributeValue, error) {
	if depth > maxDepth {
		return nil, l.err("nested too deeply")
	}
	var obj map[string]json.RawMessage
	if err := strictUnmarshal(data, &obj); err != nil || len(obj) != 1 {
		return nil, l.err("want an object with exactly one type key")
	}
	for typ, r := range obj {
		if !typeKeys[typ] {
			// Not quoted: the key may be data, e.g. a plain JSON map.
			return nil, l.err("the type key is not one of S, N, B, BOOL, NULL, SS, NS, BS, L, M")
		}
		bad := func(what string) error { return l.err("%s %s", typ, what) }
		switch typ {
		case "S", "N":
			var s string
			if json.Unmarshal(r, &s) != nil {
				return nil, bad("must be a string")
			}
			if typ == "S" {
				return &types.AttributeValueMemberS{Value: s}, nil
			}
			return &types.AttributeValueMemberN{Value: s}, nil
		case "B":
			var s string
			if json.Unmarshal(r, &s) != nil {
				return nil, bad("must be a base64 string")
			}
			b, err := DecodeBase64(s)
			if err != nil {
				return nil, bad("is not valid base64")
			}
			return &types.AttributeValueMemberB{Value: b}, nil
		case "BOOL", "NULL":
			var b bool
			if json.Unmarshal(r, &b) != nil {
				return nil, bad("must be true or false")
			}
			if typ == "NULL" {
				return &types.AttributeValueMemberNULL{Value: b}, nil
			}
			return &types.AttributeValueMemberBOOL{Value: b}, nil
		case "SS", "NS", "BS":
			var ss []string
			if json.Unmarshal(r, &ss) != nil || ss == nil {
				return nil, bad("must be an array of strings")
			}
			switch typ {
			case "SS":
				return &types.AttributeValueMemberSS{Value: ss}, nil
			case "NS":
				return &types.AttributeValueMemberNS{Value: ss}, nil
			}
			bs := make([][]byte, len(ss))
			for i, s := range ss {
				b, err := DecodeBase64(s)
				if err != nil {
					return nil, bad("element is not valid base64")
				}
				bs[i] = b
			}
			return &types.AttributeValueMemberBS{Value: bs}, nil
		case "L":
			var rs []json.RawMessage
			if json.Unmarshal(r, &rs) != nil || rs == nil {
				return nil, bad("must be an array")
			}
			l2 := make([]types.AttributeValue, len(rs))
			for i, e := range rs {
				v, err := value(e, l.inside(), depth+1)
				if err != nil {
					return nil, err
				}
				l2[i] = v
			}
			return &types.AttributeValueMemberL{Value: l2}, nil
		default: // "M"
			var m map[string]json.RawMessage
			if json.Unmarshal(r, &m) != nil || m == nil {
				return nil, bad("must be an object")
			}
			mv := make(map[string]types.AttributeValue, len(m))
			for k, e := range m {
				v, err := value(e, l.inside(), depth+1)
				if err != nil {
					return nil, err
				}
				mv[k] = v
			}
			return &types.AttributeValueMemberM{Value: mv}, nil
		}
	}
	panic("unreachable")
}

// validStrings reports whether every string (key or value) in the JSON text
// data, which must be valid JSON, decodes without loss: valid UTF-8 and no
// unpaired surrogate escape. encoding/json silently replaces both with
// U+FFFD, which would change a plaintext before it is encrypted.
func validStrings(data []byte) bool {
	if !utf8.Valid(data) {
		return false
	}
	if !bytes.Contains(data, []byte(`\u`)) {
		return true
	}
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if !inString {
			inString = c == '"'
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			if i+1 < len(data) && data[i+1] == 'u' {
				r, ok := hex4(data, i+2)
				if !ok {
					return false
				}
				switch {
				case r >= 0xDC00 && r <= 0xDFFF:
					return false // low surrogate without a high one
				case r >= 0xD800 && r <= 0xDBFF:
					if i+7 >= len(data) || data[i+6] != '\\' || data[i+7] != 'u' {
						return false
					}
					lo, ok := hex4(data, i+8)
					if !ok || lo < 0xDC00 || lo > 0xDFFF {
						return false
					}
					i += 11
				default:
					i += 5
				}
			} else {
				i++ // skip the escaped character
			}
		}
	}
	return true
}

func hex4(data []byte, at int) (rune, bool) {
	if at+4 > len(data) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(data[at:at+4]), 16, 32)
	return rune(n), err == nil
}
