package avtest

import (
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/internal/legacy"
)

// runePool mixes ASCII, Latin-1, the BMP private-use and specials blocks
// (U+E000–U+FFFF) and supplementary characters, so that the Java and Python
// orderings differ in random data.
var runePool = []rune("abcxyzABC019 _-.é中\uE000\uFFFD\uFFFF😀😁𝄞\U0010FFFD")

// RandomString returns a string of up to maxLen runes, possibly empty.
func RandomString(r *rand.Rand, maxLen int) string {
	n := r.IntN(maxLen + 1)
	var b strings.Builder
	for range n {
		b.WriteRune(runePool[r.IntN(len(runePool))])
	}
	return b.String()
}

// RandomBytes returns up to maxLen random bytes, possibly none.
func RandomBytes(r *rand.Rand, maxLen int) []byte {
	b := make([]byte, r.IntN(maxLen+1))
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

// RandomNumber returns a DynamoDB number string in one of many forms:
// integers, decimals, exponents, signs, trailing zeros and 38-digit values.
func RandomNumber(r *rand.Rand) string {
	digits := func(n int) string {
		var b strings.Builder
		b.WriteByte(byte('1' + r.IntN(9)))
		for range n - 1 {
			b.WriteByte(byte('0' + r.IntN(10)))
		}
		return b.String()
	}
	switch r.IntN(8) {
	case 0:
		return "0"
	case 1:
		return strconv.Itoa(r.IntN(2000) - 1000)
	case 2: // 38 significant digits, DynamoDB's limit
		return digits(38)
	case 3:
		return "-" + digits(1+r.IntN(37)) + "." + digits(1)
	case 4:
		return digits(1+r.IntN(5)) + "E" + strconv.Itoa(r.IntN(60)-30)
	case 5:
		return "0." + strings.Repeat("0", r.IntN(5)) + digits(1+r.IntN(10))
	case 6:
		return digits(1+r.IntN(6)) + ".000"
	default:
		return "+" + digits(1+r.IntN(4))
	}
}

// RandomValue returns a random attribute value of any of the ten types,
// nesting lists and maps up to depth. Sets are non-empty and have distinct
// elements (numbers distinct after canonicalization), as DynamoDB requires.
func RandomValue(r *rand.Rand, depth int) types.AttributeValue {
	kinds := 10
	if depth <= 0 {
		kinds = 8
	}
	switch r.IntN(kinds) {
	case 0:
		return &types.AttributeValueMemberS{Value: RandomString(r, 12)}
	case 1:
		return &types.AttributeValueMemberN{Value: RandomNumber(r)}
	case 2:
		return &types.AttributeValueMemberB{Value: RandomBytes(r, 24)}
	case 3:
		return &types.AttributeValueMemberBOOL{Value: r.IntN(2) == 1}
	case 4:
		return &types.AttributeValueMemberNULL{Value: true}
	case 5:
		seen := map[string]bool{}
		var ss []string
		for range 1 + r.IntN(5) {
			s := RandomString(r, 6)
			if !seen[s] {
				seen[s] = true
				ss = append(ss, s)
			}
		}
		return &types.AttributeValueMemberSS{Value: ss}
	case 6:
		seen := map[string]bool{}
		var ns []string
		for range 1 + r.IntN(5) {
			n := RandomNumber(r)
			c, _ := legacy.CanonicalNumber(n)
			if !seen[c] {
				seen[c] = true
				ns = append(ns, n)
			}
		}
		return &types.AttributeValueMemberNS{Value: ns}
	case 7:
		seen := map[string]bool{}
		var bs [][]byte
		for range 1 + r.IntN(5) {
			b := RandomBytes(r, 6)
			if !seen[string(b)] {
				seen[string(b)] = true
				bs = append(bs, b)
			}
		}
		return &types.AttributeValueMemberBS{Value: bs}
	case 8:
		l := make([]types.AttributeValue, r.IntN(4))
		for i := range l {
			l[i] = RandomValue(r, depth-1)
		}
		return &types.AttributeValueMemberL{Value: l}
	default:
		m := map[string]types.AttributeValue{}
		for range r.IntN(4) {
			m[RandomString(r, 5)] = RandomValue(r, depth-1)
		}
		return &types.AttributeValueMemberM{Value: m}
	}
}

// RandomItem returns an item with a partition key pk (S), a sort key sk (N,
// when not empty) and up to maxAttrs other attributes with random unicode
// names.
func RandomItem(r *rand.Rand, pk, sk string, maxAttrs int) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		pk: &types.AttributeValueMemberS{Value: "p" + RandomString(r, 8)},
	}
	if sk != "" {
		item[sk] = &types.AttributeValueMemberN{Value: RandomNumber(r)}
	}
	for range r.IntN(maxAttrs + 1) {
		name := RandomString(r, 6)
		if name == "" || name == pk || name == sk {
			continue
		}
		item[name] = RandomValue(r, 3)
	}
	return item
}

// Clone deep-copies an item.
func Clone(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(item))
	for k, v := range item {
		out[k] = CloneValue(v)
	}
	return out
}

// CloneValue deep-copies an attribute value.
func CloneValue(av types.AttributeValue) types.AttributeValue {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return &types.AttributeValueMemberS{Value: v.Value}
	case *types.AttributeValueMemberN:
		return &types.AttributeValueMemberN{Value: v.Value}
	case *types.AttributeValueMemberB:
		return &types.AttributeValueMemberB{Value: append([]byte{}, v.Value...)}
	case *types.AttributeValueMemberBOOL:
		return &types.AttributeValueMemberBOOL{Value: v.Value}
	case *types.AttributeValueMemberNULL:
		return &types.AttributeValueMemberNULL{Value: v.Value}
	case *types.AttributeValueMemberSS:
		return &types.AttributeValueMemberSS{Value: append([]string{}, v.Value...)}
	case *types.AttributeValueMemberNS:
		return &types.AttributeValueMemberNS{Value: append([]string{}, v.Value...)}
	case *types.AttributeValueMemberBS:
		bs := make([][]byte, len(v.Value))
		for i, b := range v.Value {
			bs[i] = append([]byte{}, b...)
		}
		return &types.AttributeValueMemberBS{Value: bs}
	case *types.AttributeValueMemberL:
		l := make([]types.AttributeValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = CloneValue(e)
		}
		return &types.AttributeValueMemberL{Value: l}
	case *types.AttributeValueMemberM:
		return &types.AttributeValueMemberM{Value: Clone(v.Value)}
	}
	return av
}
