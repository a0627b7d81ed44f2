// Package ddbjson reads and writes DynamoDB JSON: the item shape that
// `aws dynamodb get-item` prints, {"name": {"S": "..."}, "blob": {"B": "<base64>"}}.
package ddbjson

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ErrSyntax reports input that is not DynamoDB JSON. Messages name the
// attribute path and the problem, never the value.
var ErrSyntax = errors.New("ddbjson: invalid DynamoDB JSON")

// maxDepth bounds nesting; DynamoDB allows 32 levels.
const maxDepth = 64

// UnmarshalItem parses one item: a JSON object of attribute values.
func UnmarshalItem(data []byte) (map[string]types.AttributeValue, error) {
	var raw map[string]json.RawMessage
	if err := strictUnmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%w: item is not a JSON object", ErrSyntax)
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: item is null", ErrSyntax)
	}
	return itemFromRaw(raw, "", 0)
}

// UnmarshalValue parses one attribute value, e.g. {"N": "5"}.
func UnmarshalValue(data []byte) (types.AttributeValue, error) {
	return value(data, "value", 0)
}

func itemFromRaw(raw map[string]json.RawMessage, path string, depth int) (map[string]types.AttributeValue, error) {
	out := make(map[string]types.AttributeValue, len(raw))
	for name, r := range raw {
		v, err := value(r, join(path, name), depth)
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, nil
}

func join(path, name string) string {
	if path == "" {
		return strconv.Quote(name)
	}
	return path + "." + strconv.Quote(name)
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

func value(data []byte, path string, depth int) (types.AttributeValue, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: %s: nested too deeply", ErrSyntax, path)
	}
	var obj map[string]json.RawMessage
	if err := strictUnmarshal(data, &obj); err != nil || len(obj) != 1 {
		return nil, fmt.Errorf("%w: %s: want an object with exactly one type key", ErrSyntax, path)
	}
	for typ, r := range obj {
		bad := func(what string) error { return fmt.Errorf("%w: %s: %s %s", ErrSyntax, path, typ, what) }
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
			l := make([]types.AttributeValue, len(rs))
			for i, e := range rs {
				v, err := value(e, path+"["+strconv.Itoa(i)+"]", depth+1)
				if err != nil {
					return nil, err
				}
				l[i] = v
			}
			return &types.AttributeValueMemberL{Value: l}, nil
		case "M":
			var m map[string]json.RawMessage
			if json.Unmarshal(r, &m) != nil || m == nil {
				return nil, bad("must be an object")
			}
			mv, err := itemFromRaw(m, path, depth+1)
			if err != nil {
				return nil, err
			}
			return &types.AttributeValueMemberM{Value: mv}, nil
		default:
			return nil, fmt.Errorf("%w: %s: unknown type %q", ErrSyntax, path, typ)
		}
	}
	panic("unreachable")
}

// Marshal renders any value as JSON without HTML escaping.
func Marshal(v any) ([]byte, error) { return marshal(v) }

// MarshalItem renders an item as DynamoDB JSON with sorted attribute names.
func MarshalItem(item map[string]types.AttributeValue) ([]byte, error) {
	v, err := ToJSONValue(&types.AttributeValueMemberM{Value: item})
	if err != nil {
		return nil, err
	}
	return marshal(v.(map[string]any)["M"])
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

// MarshalValue renders one attribute value as DynamoDB JSON.
func MarshalValue(av types.AttributeValue) ([]byte, error) {
	v, err := ToJSONValue(av)
	if err != nil {
		return nil, err
	}
	return marshal(v)
}

// ToJSONValue converts an attribute value to the generic value
// encoding/json would decode its DynamoDB JSON into.
func ToJSONValue(av types.AttributeValue) (any, error) {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return map[string]any{"S": v.Value}, nil
	case *types.AttributeValueMemberN:
		return map[string]any{"N": v.Value}, nil
	case *types.AttributeValueMemberB:
		return map[string]any{"B": base64.StdEncoding.EncodeToString(v.Value)}, nil
	case *types.AttributeValueMemberBOOL:
		return map[string]any{"BOOL": v.Value}, nil
	case *types.AttributeValueMemberNULL:
		return map[string]any{"NULL": v.Value}, nil
	case *types.AttributeValueMemberSS:
		return map[string]any{"SS": nonNil(v.Value)}, nil
	case *types.AttributeValueMemberNS:
		return map[string]any{"NS": nonNil(v.Value)}, nil
	case *types.AttributeValueMemberBS:
		ss := make([]string, len(v.Value))
		for i, b := range v.Value {
			ss[i] = base64.StdEncoding.EncodeToString(b)
		}
		return map[string]any{"BS": ss}, nil
	case *types.AttributeValueMemberL:
		l := make([]any, len(v.Value))
		for i, e := range v.Value {
			x, err := ToJSONValue(e)
			if err != nil {
				return nil, err
			}
			l[i] = x
		}
		return map[string]any{"L": l}, nil
	case *types.AttributeValueMemberM:
		m := make(map[string]any, len(v.Value))
		for k, e := range v.Value {
			x, err := ToJSONValue(e)
			if err != nil {
				return nil, fmt.Errorf("attribute %q: %w", k, err)
			}
			m[k] = x
		}
		return map[string]any{"M": m}, nil
	}
	return nil, fmt.Errorf("ddbjson: unsupported attribute value type %T", av)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
