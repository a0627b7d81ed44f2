package ddbenc

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/internal/legacy"
)

// MaxItemSize is DynamoDB's item size limit, 400 KB.
const MaxItemSize = 400 * 1024

// checkValue rejects what DynamoDB rejects but would never see inside a
// ciphertext: empty sets and sets with duplicate elements (numbers compared
// canonically), at any depth.
func checkValue(v types.AttributeValue, depth int) error {
	switch x := v.(type) {
	case *types.AttributeValueMemberSS:
		return checkSet(len(x.Value), func(i int) string { return x.Value[i] })
	case *types.AttributeValueMemberBS:
		return checkSet(len(x.Value), func(i int) string { return string(x.Value[i]) })
	case *types.AttributeValueMemberNS:
		return checkSet(len(x.Value), func(i int) string {
			if c, err := legacy.CanonicalNumber(x.Value[i]); err == nil {
				return c
			}
			return x.Value[i]
		})
	case *types.AttributeValueMemberL:
		if depth > legacy.MaxDepth {
			return nil // the serializer reports excessive depth
		}
		for _, e := range x.Value {
			if err := checkValue(e, depth+1); err != nil {
				return err
			}
		}
	case *types.AttributeValueMemberM:
		if depth > legacy.MaxDepth {
			return nil
		}
		for _, e := range x.Value {
			if err := checkValue(e, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkSet(n int, elem func(int) string) error {
	if n == 0 {
		return fmt.Errorf("%w: empty set (DynamoDB does not store empty sets)", ErrInvalidItem)
	}
	if n > 1 {
		seen := make(map[string]struct{}, n)
		for i := range n {
			e := elem(i)
			if _, dup := seen[e]; dup {
				return fmt.Errorf("%w: set with duplicate elements (DynamoDB rejects them)", ErrInvalidItem)
			}
			seen[e] = struct{}{}
		}
	}
	return nil
}

// itemSize estimates an item's size the way DynamoDB counts it: attribute
// names plus values (strings and binaries by length, numbers about one byte
// per two significant digits plus one, 1 byte for BOOL and NULL, 3 bytes plus
// one per element for lists and maps).
func itemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return len(x.Value)
	case *types.AttributeValueMemberB:
		return len(x.Value)
	case *types.AttributeValueMemberN:
		return numberSize(x.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range x.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberBS:
		n := 0
		for _, b := range x.Value {
			n += len(b)
		}
		return n
	case *types.AttributeValueMemberNS:
		n := 0
		for _, s := range x.Value {
			n += numberSize(s)
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range x.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range x.Value {
			n += 1 + len(k) + valueSize(e)
		}
		return n
	}
	return 0
}

// numberSize is DynamoDB's estimate for a number: about one byte per two
// significant digits, plus one.
func numberSize(s string) int {
	c, err := legacy.CanonicalNumber(s)
	if err != nil {
		return len(s)
	}
	first, last := -1, -1
	for i := 0; i < len(c); i++ {
		if c[i] >= '1' && c[i] <= '9' {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return 1
	}
	digits := 0
	for i := first; i <= last; i++ {
		if c[i] != '.' {
			digits++
		}
	}
	return (digits+1)/2 + 1
}
