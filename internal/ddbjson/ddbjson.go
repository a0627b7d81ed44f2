// Package ddbjson reads and writes DynamoDB JSON: the item shape that
// `aws dynamodb get-item` prints, {"name": {"S": "..."}, "blob": {"B": "<base64>"}}.
//
// Errors name the top-level attribute at most. Map keys and values inside an
// attribute's value are data (a decrypted attribute's nested map keys are
// plaintext), so no error message contains them, nor a path into them.
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
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ErrSyntax reports input that is not DynamoDB JSON.
var ErrSyntax = errors.New("ddbjson: invalid DynamoDB JSON")

// ErrUnrepresentable reports an attribute value that DynamoDB JSON cannot
// carry unchanged (a string that is not valid UTF-8, a nil or unknown value).
var ErrUnrepresentable = errors.New("ddbjson: value cannot be written as DynamoDB JSON")

// Error is the error of this package's readers and writers. It wraps
// ErrSyntax or ErrUnrepresentable, and names where the problem is only down
// to the top-level attribute.
type Error struct {
	Kind error // ErrSyntax or ErrUnrepresentable
	// Envelope is "Item" or "Items[i]" when the item is inside the output
	// of `aws dynamodb get-item`, query or scan; empty otherwise.
	Envelope string
	// Attribute is the top-level attribute; empty when the problem concerns
	// the whole input.
	Attribute string
	// Nested reports that the problem is inside the attribute's value (a
	// list element or map entry) rather than at its top level.
	Nested bool
	// Problem never contains attribute values or nested map keys.
	Problem string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.Error())
	b.WriteString(": ")
	if e.Envelope != "" {
		b.WriteString(e.Envelope)
		b.WriteString(": ")
	}
	if e.Attribute != "" {
		b.WriteString("attribute ")
		b.WriteString(strconv.Quote(e.Attribute))
		if e.Nested {
			b.WriteString(", inside its value")
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Problem)
	return b.String()
}

// Unwrap returns Kind.
func (e *Error) Unwrap() error { return e.Kind }

// maxDepth bounds nesting; DynamoDB allows 32 levels.
const maxDepth = 64

// loc is where a value is: its top-level attribute and whether it is nested
// inside that attribute's value. Deliberately no path.
type loc struct {
	attr   string
	nested bool
}

func (l loc) inside() loc { return loc{attr: l.attr, nested: true} }

func (l loc) err(format string, args ...any) error {
	return &Error{Kind: ErrSyntax, Attribute: l.attr, Nested: l.nested, Problem: fmt.Sprintf(format, args...)}
}

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
			b, err := base64.StdEncoding.DecodeString(s)
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
				b, err := base64.StdEncoding.DecodeString(s)
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

// Form is the shape of an input document that UnmarshalInput found.
type Form int

const (
	// FormItem is a bare item: {"name": {"S": "..."}}.
	FormItem Form = iota
	// FormGetItem is the output of `aws dynamodb get-item`:
	// {"Item": {...}, "ConsumedCapacity": ...}.
	FormGetItem
	// FormItems is the output of `aws dynamodb query` or `scan`:
	// {"Items": [...], "Count": N, "ScannedCount": N, ...}.
	FormItems
)

// getItemFields and itemsFields are the top-level fields the AWS CLI prints
// for get-item and for query/scan.
var (
	getItemFields = map[string]bool{"Item": true, "ConsumedCapacity": true}
	itemsFields   = map[string]bool{"Items": true, "Count": true, "ScannedCount": true, "LastEvaluatedKey": true, "ConsumedCapacity": true, "NextToken": true}
)

// UnmarshalInput parses one input document: a bare item, the output of
// `aws dynamodb get-item` ({"Item": {...}}), or the output of `aws dynamodb
// query` or `scan` ({"Items": [...], "Count": N, ...}), and returns its
// items and which form it is.
//
// The rule is unambiguous because no document is both a valid bare item and
// a valid envelope:
//
//   - "Items" holding a JSON array makes a query/scan result: in a bare item
//     every attribute value is an object. Its other fields must be the ones
//     the AWS CLI prints (Count, ScannedCount, LastEvaluatedKey,
//     ConsumedCapacity, NextToken).
//   - Any document that is a valid bare item is a bare item, whatever its
//     attribute names (an attribute named "Item" holds an attribute value).
//   - Otherwise, a document whose fields are "Item" and optionally
//     "ConsumedCapacity" is a get-item result, and "Item" must hold an item.
//     An item is never also an attribute value: an attribute value has one
//     key, a type, whose content is an object only for "M", and then that
//     content would have to be an attribute value and an item again, which
//     no finite JSON is.
//
// The form is returned with an error, too, when it was recognised.
func UnmarshalInput(data []byte) ([]map[string]types.AttributeValue, Form, error) {
	raw, err := object(data)
	if err != nil {
		return nil, FormItem, err
	}
	if r, ok := raw["Items"]; ok && jsonKind(r) == '[' {
		for k := range raw {
			if !itemsFields[k] {
				return nil, FormItems, &Error{Kind: ErrSyntax, Problem: fmt.Sprintf("query/scan output has an unexpected field %q", k)}
			}
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(r, &elems); err != nil {
			return nil, FormItems, &Error{Kind: ErrSyntax, Problem: "Items is not an array"}
		}
		items := make([]map[string]types.AttributeValue, len(elems))
		for i, e := range elems {
			it, err := UnmarshalItem(e)
			if err != nil {
				return nil, FormItems, inEnvelope(err, fmt.Sprintf("Items[%d]", i))
			}
			items[i] = it
		}
		return items, FormItems, nil
	}
	item, bareErr := itemFromRaw(raw, data)
	if bareErr == nil {
		return []map[string]types.AttributeValue{item}, FormItem, nil
	}
	r, ok := raw["Item"]
	if !ok || jsonKind(r) != '{' || !onlyFields(raw, getItemFields) {
		return nil, FormItem, bareErr
	}
	inner, err := UnmarshalItem(r)
	if err == nil {
		return []map[string]types.AttributeValue{inner}, FormGetItem, nil
	}
	// Neither reading works: report the one the input looks like.
	if looksLikeValue(r) {
		return nil, FormItem, bareErr
	}
	return nil, FormGetItem, inEnvelope(err, "Item")
}

func inEnvelope(err error, where string) error {
	var e *Error
	if errors.As(err, &e) {
		c := *e
		c.Envelope = where
		return &c
	}
	return err
}

func onlyFields(raw map[string]json.RawMessage, allowed map[string]bool) bool {
	for k := range raw {
		if !allowed[k] {
			return false
		}
	}
	return true
}

// jsonKind returns the first non-space byte of a JSON value.
func jsonKind(r json.RawMessage) byte {
	if t := bytes.TrimLeft(r, " \t\r\n"); len(t) > 0 {
		return t[0]
	}
	return 0
}

// looksLikeValue reports whether r is an object with one key, a type key.
func looksLikeValue(r json.RawMessage) bool {
	var obj map[string]json.RawMessage
	if json.Unmarshal(r, &obj) != nil || len(obj) != 1 {
		return false
	}
	for k := range obj {
		return typeKeys[k]
	}
	return false
}

// Marshal renders any value as JSON without HTML escaping.
func Marshal(v any) ([]byte, error) { return marshal(v) }

// MarshalItem renders an item as DynamoDB JSON with sorted attribute names.
// A string that is not valid UTF-8 (which JSON would silently replace) is
// an ErrUnrepresentable error naming the top-level attribute only.
func MarshalItem(item map[string]types.AttributeValue) ([]byte, error) {
	m := make(map[string]any, len(item))
	for name, av := range item {
		if !utf8.ValidString(name) {
			return nil, &Error{Kind: ErrUnrepresentable, Attribute: name, Problem: "the attribute name is not valid UTF-8"}
		}
		v, err := toJSON(av, loc{attr: name}, true)
		if err != nil {
			return nil, err
		}
		m[name] = v
	}
	return marshal(m)
}

// marshal is json.Marshal without HTML escaping ("<" stays "<").
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// MarshalValue renders one attribute value as DynamoDB JSON; like
// MarshalItem it refuses strings that are not valid UTF-8.
func MarshalValue(av types.AttributeValue) ([]byte, error) {
	v, err := toJSON(av, loc{}, true)
	if err != nil {
		return nil, err
	}
	return marshal(v)
}

// ToJSONValue converts an attribute value to the generic value
// encoding/json would decode its DynamoDB JSON into. Strings are kept as
// they are, valid UTF-8 or not (only encoding them as JSON text would alter
// them; MarshalItem and MarshalValue check).
func ToJSONValue(av types.AttributeValue) (any, error) { return toJSON(av, loc{}, false) }

func unrepresentable(l loc, problem string) error {
	return &Error{Kind: ErrUnrepresentable, Attribute: l.attr, Nested: l.nested, Problem: problem}
}

func checkStrings(strict bool, l loc, typ string, ss ...string) error {
	if !strict {
		return nil
	}
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return unrepresentable(l, typ+" value is not valid UTF-8")
		}
	}
	return nil
}

// toJSON converts av, found at l; strict refuses strings that JSON text
// cannot carry unchanged.
func toJSON(av types.AttributeValue, l loc, strict bool) (any, error) {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		if err := checkStrings(strict, l, "S", v.Value); err != nil {
			return nil, err
		}
		return map[string]any{"S": v.Value}, nil
	case *types.AttributeValueMemberN:
		if err := checkStrings(strict, l, "N", v.Value); err != nil {
			return nil, err
		}
		return map[string]any{"N": v.Value}, nil
	case *types.AttributeValueMemberB:
		return map[string]any{"B": base64.StdEncoding.EncodeToString(v.Value)}, nil
	case *types.AttributeValueMemberBOOL:
		return map[string]any{"BOOL": v.Value}, nil
	case *types.AttributeValueMemberNULL:
		return map[string]any{"NULL": v.Value}, nil
	case *types.AttributeValueMemberSS:
		if err := checkStrings(strict, l, "SS", v.Value...); err != nil {
			return nil, err
		}
		return map[string]any{"SS": nonNil(v.Value)}, nil
	case *types.AttributeValueMemberNS:
		if err := checkStrings(strict, l, "NS", v.Value...); err != nil {
			return nil, err
		}
		return map[string]any{"NS": nonNil(v.Value)}, nil
	case *types.AttributeValueMemberBS:
		ss := make([]string, len(v.Value))
		for i, b := range v.Value {
			ss[i] = base64.StdEncoding.EncodeToString(b)
		}
		return map[string]any{"BS": ss}, nil
	case *types.AttributeValueMemberL:
		list := make([]any, len(v.Value))
		for i, e := range v.Value {
			x, err := toJSON(e, l.inside(), strict)
			if err != nil {
				return nil, err
			}
			list[i] = x
		}
		return map[string]any{"L": list}, nil
	case *types.AttributeValueMemberM:
		m := make(map[string]any, len(v.Value))
		for k, e := range v.Value {
			if strict && !utf8.ValidString(k) {
				return nil, unrepresentable(l.inside(), "a map key is not valid UTF-8")
			}
			x, err := toJSON(e, l.inside(), strict)
			if err != nil {
				return nil, err
			}
			m[k] = x
		}
		return map[string]any{"M": m}, nil
	case nil:
		return nil, unrepresentable(l, "nil attribute value")
	}
	return nil, unrepresentable(l, fmt.Sprintf("unsupported attribute value type %T", av))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
