package ddbjson

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

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
