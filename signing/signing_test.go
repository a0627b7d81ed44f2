package signing_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
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
	"github.com/ddbec/ddbec-go/internal/testvectors"
	"github.com/ddbec/ddbec-go/signing"
)

var orderings = []signing.Ordering{signing.JavaOrdering, signing.PythonOrdering}

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
			got, err := signing.Serialize(v.Attribute.AttributeValue, o)
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
		got, err := signing.Deserialize(v.Serialized)
		if err != nil {
			t.Errorf("vector %d: Deserialize: %v", i, err)
			continue
		}
		if diff := cmp.Diff(avtest.Normalize(v.Attribute.AttributeValue), avtest.Normalize(got)); diff != "" {
			t.Errorf("vector %d: Deserialize (-want +got):\n%s", i, diff)
		}
		// Deserialized values serialize back to the same bytes.
		again, err := signing.Serialize(got, signing.JavaOrdering)
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
			got, err := signing.StringToSign(v.Table, item, acts.Get, o)
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
	// Spec §1.2 and §8.1: exact bytes, including the orderings that differ.
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
			if o == signing.PythonOrdering && c.py != "" {
				want = c.py
			}
			got, err := signing.Serialize(av, o)
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
		if got := sign(signing.JavaOrdering.CompareStrings(c.a, c.b)); got != c.java {
			t.Errorf("Java CompareStrings(%q, %q) = %d, want %d", c.a, c.b, got, c.java)
		}
		if got := sign(signing.JavaOrdering.CompareStrings(c.b, c.a)); got != -c.java {
			t.Errorf("Java CompareStrings(%q, %q) = %d, want %d", c.b, c.a, got, -c.java)
		}
		if got := sign(signing.PythonOrdering.CompareStrings(c.a, c.b)); got != c.py {
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
		_, err := signing.Serialize(av, signing.JavaOrdering)
		if !errors.Is(err, signing.ErrUnsupportedValue) {
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
	if _, err := signing.Serialize(deep, signing.JavaOrdering); !errors.Is(err, signing.ErrUnsupportedValue) {
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
		_, err := signing.Deserialize(mustHex(h))
		if !errors.Is(err, signing.ErrMalformed) {
			t.Errorf("%s: Deserialize = %v, want ErrMalformed", name, err)
		}
	}
	deep := bytes.Repeat(mustHex("004c00000001"), 100)
	deep = append(deep, 0, 0)
	if _, err := signing.Deserialize(deep); !errors.Is(err, signing.ErrMalformed) {
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
	j, err := signing.StringToSign("t", item, acts.Get, signing.JavaOrdering)
	if err != nil {
		t.Fatal(err)
	}
	p, err := signing.StringToSign("t", item, acts.Get, signing.PythonOrdering)
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
		if _, err := signing.StringToSign("t", item, acts.Get, signing.JavaOrdering); err != nil {
			t.Errorf("Java StringToSign(%s): %v", n, err)
		}
		var ae *signing.AttributeError
		if _, err := signing.StringToSign("t", item, acts.Get, signing.PythonOrdering); !errors.As(err, &ae) || ae.Attribute != "n" {
			t.Errorf("Python StringToSign(%s) = %v, want AttributeError for n", n, err)
		}
	}
	a, _ := signing.StringToSignLegacyPython("t", map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: long}}, acts.Get)
	b, _ := signing.StringToSignLegacyPython("t", map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: rounded}}, acts.Get)
	c, _ := signing.StringToSign("t", map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: "1234567890123456789012345679"}}, acts.Get, signing.PythonOrdering)
	if !bytes.Equal(a, b) || bytes.Equal(a, c) || len(a) == 0 {
		t.Error("StringToSignLegacyPython does not round to 28 digits")
	}
	j, _ = signing.StringToSign("t", map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: "-0"}}, acts.Get, signing.JavaOrdering)
	p, _ = signing.StringToSignLegacyPython("t", map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: "-0"}}, acts.Get)
	if bytes.Equal(j, p) {
		t.Error("negative zero hashed the same under both number rules")
	}
	// An unserializable signed value is an AttributeError naming the attribute.
	item = map[string]types.AttributeValue{"bad": &types.AttributeValueMemberNULL{Value: false}}
	_, err = signing.StringToSign("t", item, acts.Get, signing.JavaOrdering)
	var ae *signing.AttributeError
	if !errors.As(err, &ae) || ae.Attribute != "bad" || !errors.Is(err, signing.ErrUnsupportedValue) {
		t.Errorf("StringToSign bad value = %v, want AttributeError for \"bad\"", err)
	}
}

func TestHMAC(t *testing.T) {
	for _, alg := range []string{"HmacSHA224", "HmacSHA256", "HmacSHA384", "HmacSHA512"} {
		k, err := signing.NewHMAC(alg, []byte("8bytekey"))
		if err != nil {
			t.Fatal(err)
		}
		msg := []byte("string to sign")
		sig, err := k.Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Verify(msg, sig, ""); err != nil {
			t.Errorf("%s: Verify = %v", alg, err)
		}
		for i := range len(sig) * 8 {
			bad := bytes.Clone(sig)
			bad[i/8] ^= 1 << (i % 8)
			if err := k.Verify(msg, bad, ""); !errors.Is(err, signing.ErrInvalidSignature) {
				t.Fatalf("%s: bit %d flipped: Verify = %v", alg, i, err)
			}
		}
		if err := k.Verify(msg[1:], sig, ""); !errors.Is(err, signing.ErrInvalidSignature) {
			t.Errorf("%s: changed message verified", alg)
		}
	}
	if _, err := signing.NewHMAC("HmacMD5", []byte("k")); !errors.Is(err, signing.ErrInvalidKey) {
		t.Errorf("NewHMAC(HmacMD5) = %v", err)
	}
	if _, err := signing.NewHMAC("HmacSHA256", nil); !errors.Is(err, signing.ErrInvalidKey) {
		t.Errorf("NewHMAC(empty key) = %v", err)
	}
}

func TestRSA(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("string to sign")
	for _, alg := range []string{"", "SHA224withRSA", "SHA256withRSA", "SHA384withRSA", "SHA512withRSA"} {
		s, err := signing.NewRSASigner(key, alg)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := s.Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := signing.NewRSAVerifier(&key.PublicKey)
		if err := v.Verify(msg, sig, s.Algorithm()); err != nil {
			t.Errorf("%q: Verify = %v", alg, err)
		}
		for i := 0; i < len(sig)*8; i += 61 {
			bad := bytes.Clone(sig)
			bad[i/8] ^= 1 << (i % 8)
			if err := v.Verify(msg, bad, s.Algorithm()); !errors.Is(err, signing.ErrInvalidSignature) {
				t.Fatalf("%q: bit %d flipped: Verify = %v", alg, i, err)
			}
		}
	}
	s, _ := signing.NewRSASigner(key, "")
	if s.Algorithm() != "SHA256withRSA" {
		t.Errorf("default algorithm = %q", s.Algorithm())
	}
	sig, _ := s.Sign(msg)
	// The description names the hash on verify: a different hash fails.
	if err := s.Verify(msg, sig, "SHA512withRSA"); !errors.Is(err, signing.ErrInvalidSignature) {
		t.Errorf("Verify with the wrong hash = %v", err)
	}
	if err := s.Verify(msg, sig, "MD5withRSA"); !errors.Is(err, signing.ErrInvalidSignature) {
		t.Errorf("Verify with an unknown algorithm = %v", err)
	}
	if _, err := signing.NewRSASigner(key, "MD5withRSA"); !errors.Is(err, signing.ErrInvalidKey) {
		t.Errorf("NewRSASigner(MD5withRSA) = %v", err)
	}
}

func FuzzDeserialize(f *testing.F) {
	root, err := testvectors.Root()
	if err != nil {
		f.Fatal(err)
	}
	n := 0
	for _, file := range []string{"serialize_attribute.json", "deserialize_attribute.json"} {
		vs, err := testvectors.AttributeVectors(root, file)
		if err != nil {
			f.Fatal(err)
		}
		for _, v := range vs {
			f.Add([]byte(v.Serialized))
			n++
		}
	}
	if n == 0 {
		f.Fatal("empty seed corpus")
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		av, err := signing.Deserialize(data)
		if err != nil {
			return
		}
		// Whatever deserializes serializes again (possibly reordered) and
		// deserializes to an equal value.
		b, err := signing.Serialize(av, signing.JavaOrdering)
		if err != nil {
			// Stored numbers need not be valid; anything else must serialize.
			if errors.Is(err, signing.ErrUnsupportedValue) {
				return
			}
			t.Fatalf("Serialize after Deserialize: %v", err)
		}
		av2, err := signing.Deserialize(b)
		if err != nil {
			t.Fatalf("Deserialize(Serialize(x)): %v", err)
		}
		if diff := cmp.Diff(avtest.Normalize(av), avtest.Normalize(av2)); diff != "" {
			t.Fatalf("round trip changed the value:\n%s", diff)
		}
	})
}

func ExampleSerialize() {
	b, _ := signing.Serialize(&types.AttributeValueMemberN{Value: "55.00"}, signing.JavaOrdering)
	fmt.Printf("%x\n", b)
	// Output: 006e000000023535
}
