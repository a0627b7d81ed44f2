package legacy_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/internal/ddbjson"
	"github.com/ddbec/ddbec-go/internal/legacy"
	"github.com/ddbec/ddbec-go/internal/testvectors"
)

var orderings = []legacy.Ordering{legacy.JavaOrdering, legacy.PythonOrdering}

// treat maps an action map onto the string to sign's treatments, as the
// engine does.
func treat(m actions.Map) func(string) legacy.Treatment {
	return func(name string) legacy.Treatment {
		switch m.Get(name) {
		case actions.EncryptAndSign:
			return legacy.SignedEncrypted
		case actions.SignOnly:
			return legacy.SignedPlaintext
		}
		return legacy.Unsigned
	}
}

func vectorRoot(t *testing.T) string {
	t.Helper()
	root, err := testvectors.Root()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func TestSerializeVectors(t *testing.T) {
	vs, err := testvectors.AttributeVectors(vectorRoot(t), "serialize_attribute.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("no serialize vectors")
	}
	for i, v := range vs {
		for _, o := range orderings {
			got, err := legacy.Serialize(v.Attribute.AttributeValue, o)
			if err != nil {
				t.Errorf("vector %d: Serialize(%s): %v", i, o, err)
				continue
			}
			if !bytes.Equal(got, v.Serialized) {
				t.Errorf("vector %d: Serialize(%s) = %x, want %x", i, o, got, []byte(v.Serialized))
			}
		}
	}
	t.Logf("serialize_attribute.json: %d vectors passed under both orderings", len(vs))
}

func TestDeserializeVectors(t *testing.T) {
	vs, err := testvectors.AttributeVectors(vectorRoot(t), "deserialize_attribute.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("no deserialize vectors")
	}
	for i, v := range vs {
		got, err := legacy.Deserialize(v.Serialized)
		if err != nil {
			t.Errorf("vector %d: Deserialize: %v", i, err)
			continue
		}
		if diff := cmp.Diff(avtest.Normalize(v.Attribute.AttributeValue), avtest.Normalize(got)); diff != "" {
			t.Errorf("vector %d: Deserialize (-want +got):\n%s", i, diff)
		}
		// Deserialized values serialize back to the same bytes.
		again, err := legacy.Serialize(got, legacy.JavaOrdering)
		if err != nil || !bytes.Equal(again, v.Serialized) {
			t.Errorf("vector %d: Serialize(Deserialize(x)) = %x, %v; want %x", i, again, err, []byte(v.Serialized))
		}
	}
	t.Logf("deserialize_attribute.json: %d vectors passed", len(vs))
}

func TestStringToSignVectors(t *testing.T) {
	vs, err := testvectors.StringToSignVectors(vectorRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("no string-to-sign vectors")
	}
	for i, v := range vs {
		item := map[string]types.AttributeValue{}
		acts := actions.Map{Default: actions.DoNothing, Attributes: map[string]actions.Action{}}
		for name, a := range v.Item {
			item[name] = a.Value.AttributeValue
			act, err := actions.Parse(a.Action)
			if err != nil {
				t.Fatal(err)
			}
			acts.Attributes[name] = act
		}
		for _, o := range orderings {
			got, err := legacy.StringToSign(v.Table, item, treat(acts), o)
			if err != nil {
				t.Errorf("vector %d: StringToSign(%s): %v", i, o, err)
				continue
			}
			if !bytes.Equal(got, v.StringToSign) {
				t.Errorf("vector %d: StringToSign(%s) = %x, want %x", i, o, got, []byte(v.StringToSign))
			}
		}
	}
	t.Logf("string_to_sign.json: %d vectors passed under both orderings", len(vs))
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func TestSerializeSpecExamples(t *testing.T) {
	// docs/legacy-format.md §1.2 and §8.1: exact bytes, including the orderings that differ.
	cases := []struct {
		name  string
		value string
		java  string
		py    string // "" means same as java
	}{
		{"null", `{"NULL":true}`, "0000", ""},
		{"bool", `{"BOOL":true}`, "003f01", ""},
		{"number trailing zeros", `{"N":"55.00"}`, "006e00000002 3535", ""},
		{"number exponent", `{"N":"1E+2"}`, "006e00000003 313030", ""},
		{"empty string", `{"S":""}`, "007300000000", ""},
		{"empty binary", `{"B":""}`, "006200000000", ""},
		{"empty list", `{"L":[]}`, "004c00000000", ""},
		{"empty map", `{"M":{}}`, "004d00000000", ""},
		{"number set by canonical bytes", `{"NS":["10","9","-1.5","1000","0.0"]}`,
			"004e00000005 000000042d312e35 0000000130 000000023130 0000000431303030 0000000139", ""},
		// BS [80, 01, ff00, 0102]: Python 01,0102,80,ff00; Java 80,ff00,01,0102.
		{"binary set signed", `{"BS":["gA==","AQ==","/wA=","AQI="]}`,
			"004200000004 0000000180 00000002ff00 0000000101 000000020102",
			"004200000004 0000000101 000000020102 0000000180 00000002ff00"},
		// SS ["\uFFFD","😀","z","é"]: Python z, é, U+FFFD, 😀; Java z, é, 😀, U+FFFD.
		{"string set utf16", `{"SS":["\uFFFD","😀","z","é"]}`,
			"005300000004 000000017a 00000002c3a9 00000004f09f9880 00000003efbfbd",
			"005300000004 000000017a 00000002c3a9 00000003efbfbd 00000004f09f9880"},
		{"map keys utf16", `{"M":{"\uFFFD":{"NULL":true},"😀":{"NULL":true}}}`,
			"004d00000002 007300000004f09f9880 0000 007300000003efbfbd 0000",
			"004d00000002 007300000003efbfbd 0000 007300000004f09f9880 0000"},
	}
	for _, c := range cases {
		av, err := ddbjson.UnmarshalValue([]byte(c.value))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, o := range orderings {
			want := c.java
			if o == legacy.PythonOrdering && c.py != "" {
				want = c.py
			}
			got, err := legacy.Serialize(av, o)
			if err != nil || !bytes.Equal(got, mustHex(want)) {
				t.Errorf("%s: Serialize(%s) = %x, %v; want %s", c.name, o, got, err, want)
			}
		}
	}
}

func TestCompareStrings(t *testing.T) {
	cases := []struct {
		a, b     string
		java, py int // sign of the comparison
	}{
		{"a", "b", -1, -1},
		{"a", "ab", -1, -1},
		{"", "a", -1, -1},
		{"same", "same", 0, 0},
		{"é", "z", 1, 1},
		{"😀", "\uFFFD", -1, 1},
		{"x😀", "x\uE000", -1, 1},
		{"😀", "\uD7FF", 1, 1},
		{"😀", "😁", -1, -1},
		{"\uE000", "\uFFFF", -1, -1},
	}
	sign := func(x int) int {
		switch {
		case x < 0:
			return -1
		case x > 0:
			return 1
		}
		return 0
	}
	for _, c := range cases {
		if got := sign(legacy.CompareStrings(legacy.JavaOrdering, c.a, c.b)); got != c.java {
			t.Errorf("Java CompareStrings(%q, %q) = %d, want %d", c.a, c.b, got, c.java)
		}
		if got := sign(legacy.CompareStrings(legacy.JavaOrdering, c.b, c.a)); got != -c.java {
			t.Errorf("Java CompareStrings(%q, %q) = %d, want %d", c.b, c.a, got, -c.java)
		}
		if got := sign(legacy.CompareStrings(legacy.PythonOrdering, c.a, c.b)); got != c.py {
			t.Errorf("Python CompareStrings(%q, %q) = %d, want %d", c.a, c.b, got, c.py)
		}
	}
}

func TestSerializeRejects(t *testing.T) {
	cases := map[string]types.AttributeValue{
		"null false":    &types.AttributeValueMemberNULL{Value: false},
		"nil":           nil,
		"bad number":    &types.AttributeValueMemberN{Value: "12abc"},
		"bad in set":    &types.AttributeValueMemberNS{Value: []string{"1", "x"}},
		"nested nil":    &types.AttributeValueMemberL{Value: []types.AttributeValue{nil}},
		"unknown union": &types.UnknownUnionMember{Tag: "X"},
	}
	for name, av := range cases {
		_, err := legacy.Serialize(av, legacy.JavaOrdering)
		if !errors.Is(err, legacy.ErrUnsupportedValue) {
			t.Errorf("%s: Serialize = %v, want ErrUnsupportedValue", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "12abc") {
			t.Errorf("%s: error leaks the value: %v", name, err)
		}
	}
	deep := types.AttributeValue(&types.AttributeValueMemberNULL{Value: true})
	for range 100 {
		deep = &types.AttributeValueMemberL{Value: []types.AttributeValue{deep}}
	}
	if _, err := legacy.Serialize(deep, legacy.JavaOrdering); !errors.Is(err, legacy.ErrUnsupportedValue) {
		t.Errorf("deep nesting: Serialize = %v, want ErrUnsupportedValue", err)
	}
}

func TestDeserializeRejects(t *testing.T) {
	cases := map[string]string{
		"empty":              "",
		"reserved byte":      "0173 00000000",
		"unknown tag":        "0078",
		"bool byte 2":        "003f02",
		"bool missing":       "003f",
		"length past end":    "0073 00000005 6162",
		"huge length":        "0073 ffffffff",
		"huge set count":     "0053 7fffffff",
		"huge list count":    "004c 7fffffff",
		"map key not string": "004d 00000001 006e0000000131 0000",
		"trailing bytes":     "0000 00",
		"truncated tag":      "00",
		"truncated count":    "004c 0000",
	}
	for name, h := range cases {
		_, err := legacy.Deserialize(mustHex(h))
		if !errors.Is(err, legacy.ErrMalformed) {
			t.Errorf("%s: Deserialize = %v, want ErrMalformed", name, err)
		}
	}
	deep := bytes.Repeat(mustHex("004c00000001"), 100)
	deep = append(deep, 0, 0)
	if _, err := legacy.Deserialize(deep); !errors.Is(err, legacy.ErrMalformed) {
		t.Errorf("deep nesting: Deserialize = %v, want ErrMalformed", err)
	}
}

func TestStringToSignOrderingDiffers(t *testing.T) {
	// Names above U+FFFF versus U+E000–U+FFFF sort differently.
	item := map[string]types.AttributeValue{
		"\uFFFD": &types.AttributeValueMemberS{Value: "a"},
		"😀":      &types.AttributeValueMemberS{Value: "b"},
	}
	acts := actions.Map{Default: actions.SignOnly}
	j, err := legacy.StringToSign("t", item, treat(acts), legacy.JavaOrdering)
	if err != nil {
		t.Fatal(err)
	}
	p, err := legacy.StringToSign("t", item, treat(acts), legacy.PythonOrdering)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(j, p) {
		t.Fatal("Java and Python strings to sign are equal for names that sort differently")
	}
	if len(j) != 32+2*96 {
		t.Errorf("len = %d, want %d", len(j), 32+2*96)
	}
	// The Python number rule: negative zero and more than 28 digits are
	// refused by StringToSign and rounded only by StringToSignLegacyPython.
	long := "1234567890123456789012345678901"
	rounded := "1234567890123456789012345679000"
	for _, n := range []string{"-0", long} {
		item = map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: n}}
		if _, err := legacy.StringToSign("t", item, treat(acts), legacy.JavaOrdering); err != nil {
			t.Errorf("Java StringToSign(%s): %v", n, err)
		}
		var ae *legacy.AttributeError
		if _, err := legacy.StringToSign("t", item, treat(acts), legacy.PythonOrdering); !errors.As(err, &ae) || ae.Attribute != "n" {
			t.Errorf("Python StringToSign(%s) = %v, want AttributeError for n", n, err)
		}
	}
	a, _ := legacy.StringToSignLegacyPython("t", map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: long}}, treat(acts))
	b, _ := legacy.StringToSignLegacyPython("t", map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: rounded}}, treat(acts))
	c, _ := legacy.StringToSign("t", map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: "1234567890123456789012345679"}}, treat(acts), legacy.PythonOrdering)
	if !bytes.Equal(a, b) || bytes.Equal(a, c) || len(a) == 0 {
		t.Error("StringToSignLegacyPython does not round to 28 digits")
	}
	j, _ = legacy.StringToSign("t", map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: "-0"}}, treat(acts), legacy.JavaOrdering)
	p, _ = legacy.StringToSignLegacyPython("t", map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: "-0"}}, treat(acts))
	if bytes.Equal(j, p) {
		t.Error("negative zero hashed the same under both number rules")
	}
	// An unserializable signed value is an AttributeError naming the attribute.
	item = map[string]types.AttributeValue{"bad": &types.AttributeValueMemberNULL{Value: false}}
	_, err = legacy.StringToSign("t", item, treat(acts), legacy.JavaOrdering)
	var ae *legacy.AttributeError
	if !errors.As(err, &ae) || ae.Attribute != "bad" || !errors.Is(err, legacy.ErrUnsupportedValue) {
		t.Errorf("StringToSign bad value = %v, want AttributeError for \"bad\"", err)
	}
}

func FuzzDeserialize(f *testing.F) {
	for _, seed := range testvectors.Seeds(f, testvectors.SerializedAttributeSeeds) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		av, err := legacy.Deserialize(data)
		if err != nil {
			return
		}
		// Whatever deserializes serializes again (possibly reordered) and
		// deserializes to an equal value.
		b, err := legacy.Serialize(av, legacy.JavaOrdering)
		if err != nil {
			// Stored numbers need not be valid; anything else must serialize.
			if errors.Is(err, legacy.ErrUnsupportedValue) {
				return
			}
			t.Fatalf("Serialize after Deserialize: %v", err)
		}
		av2, err := legacy.Deserialize(b)
		if err != nil {
			t.Fatalf("Deserialize(Serialize(x)): %v", err)
		}
		if diff := cmp.Diff(avtest.Normalize(av), avtest.Normalize(av2)); diff != "" {
			t.Fatalf("round trip changed the value:\n%s", diff)
		}
	})
}

func ExampleSerialize() {
	b, _ := legacy.Serialize(&types.AttributeValueMemberN{Value: "55.00"}, legacy.JavaOrdering)
	fmt.Printf("%x\n", b)
	// Output: 006e000000023535
}
