// Package avtest compares DynamoDB attribute values in tests.
package avtest

import (
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/ddbec/ddbec-go/internal/ddbjson"
	"github.com/ddbec/ddbec-go/internal/legacy"
)

// Normalize converts an attribute value into plain Go values (DynamoDB JSON
// shape) with numbers canonical and set elements sorted, so that two values
// equal under the legacy format compare equal with cmp.
func Normalize(av types.AttributeValue) any {
	v, err := ddbjson.ToJSONValue(canon(av))
	if err != nil {
		return err.Error()
	}
	return v
}

// NormalizeItem normalizes every attribute of an item.
func NormalizeItem(item map[string]types.AttributeValue) map[string]any {
	out := make(map[string]any, len(item))
	for k, v := range item {
		out[k] = Normalize(v)
	}
	return out
}

// DiffItems returns a cmp diff of two items after normalization ("" if equal).
func DiffItems(want, got map[string]types.AttributeValue) string {
	return cmp.Diff(NormalizeItem(want), NormalizeItem(got))
}

func num(s string) string {
	if c, err := legacy.CanonicalNumber(s); err == nil {
		return c
	}
	return s
}

func canon(av types.AttributeValue) types.AttributeValue {
	switch v := av.(type) {
	case *types.AttributeValueMemberN:
		return &types.AttributeValueMemberN{Value: num(v.Value)}
	case *types.AttributeValueMemberNS:
		ns := make([]string, len(v.Value))
		for i, n := range v.Value {
			ns[i] = num(n)
		}
		slices.Sort(ns)
		return &types.AttributeValueMemberNS{Value: ns}
	case *types.AttributeValueMemberSS:
		ss := slices.Clone(v.Value)
		slices.Sort(ss)
		return &types.AttributeValueMemberSS{Value: ss}
	case *types.AttributeValueMemberBS:
		bs := slices.Clone(v.Value)
		slices.SortFunc(bs, func(a, b []byte) int { return slices.Compare(a, b) })
		return &types.AttributeValueMemberBS{Value: bs}
	case *types.AttributeValueMemberL:
		l := make([]types.AttributeValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = canon(e)
		}
		return &types.AttributeValueMemberL{Value: l}
	case *types.AttributeValueMemberM:
		m := make(map[string]types.AttributeValue, len(v.Value))
		for k, e := range v.Value {
			m[k] = canon(e)
		}
		return &types.AttributeValueMemberM{Value: m}
	}
	return av
}
