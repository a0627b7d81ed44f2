package dbesdk

import (
	"encoding/hex"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestNormalizeNumber is the table of docs/dbesdk-format.md §2.6.
func TestNormalizeNumber(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0", "-0": "0", "0.000": "0", "-0.0": "0", "0E+5": "0", "0000": "0", "00100": "100", "1230": "1230",
		"55.00": "55", "55.34000": "55.34", "1E+2": "100", "1.50E3": "1500", "1E0": "1", "1e-5": "0.00001",
		"12.3e-4": "0.00123", "-0.00123E+2": "-0.123", ".5": "0.5", "5.": "5", "+5": "5", "-1.000": "-1",
		"2000.000": "2000", "00.0011": "0.0011", "0.001e10": "10000000", "1500e-2": "15",
		"1.23456789012345678901234567890123456780": "1.2345678901234567890123456789012345678",
	} {
		if got, err := NormalizeNumber(in); err != nil || got != want {
			t.Errorf("NormalizeNumber(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"123456789012345678901234567890123456789", "1e126", "1e-131", "", ".", "1e", " 1", "NaN", "0x10", "1.2.3"} {
		if got, err := NormalizeNumber(in); err == nil {
			t.Errorf("NormalizeNumber(%q) = %q, want an error", in, got)
		}
	}
	for _, in := range []string{"9.9999999999999999999999999999999999999E+125", "1e-130"} {
		if _, err := NormalizeNumber(in); err != nil {
			t.Errorf("NormalizeNumber(%q): %v", in, err)
		}
	}
}

// TestSerializeExamples is the example table of docs/dbesdk-format.md §2.2.
func TestSerializeExamples(t *testing.T) {
	for _, c := range []struct {
		av   types.AttributeValue
		want string
	}{
		{&types.AttributeValueMemberNULL{Value: true}, "0000"},
		{&types.AttributeValueMemberBOOL{Value: true}, "000401"},
		{&types.AttributeValueMemberN{Value: "-012.50"}, "00022d31322e35"},
		{&types.AttributeValueMemberB{Value: []byte{0, 1, 2, 0xff}}, "ffff000102ff"},
		{&types.AttributeValueMemberSS{Value: []string{"b", "a", "\uFF61", "\U00010002"}}, "0101" + "00000004" + "0000000161" + "0000000162" + "00000004f0908082" + "00000003efbda1"},
		{&types.AttributeValueMemberNS{Value: []string{"10", "9", "1e2", "-1"}}, "0102" + "00000004" + "000000022d31" + "000000023130" + "00000003313030" + "0000000139"},
		{&types.AttributeValueMemberBS{Value: [][]byte{{0x80}, {1}, {1, 2}}}, "01ff" + "00000003" + "0000000101" + "000000020102" + "0000000180"},
		{&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"b": &types.AttributeValueMemberN{Value: "2"}, "a": &types.AttributeValueMemberS{Value: "x"}}},
			"0200" + "00000002" + "0001000000016100010000000178" + "0001000000016200020000000132"},
		{&types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "x"}, &types.AttributeValueMemberN{Value: "2"}, &types.AttributeValueMemberNULL{Value: true}}},
			"0300" + "00000003" + "00010000000178" + "00020000000132" + "000000000000"},
	} {
		term, err := serialize(c.av)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(term.bytes()); got != c.want {
			t.Errorf("serialize(%#v) = %s, want %s", c.av, got, c.want)
		}
		if _, err := parseTerminal(term); err != nil {
			t.Errorf("parse back: %v", err)
		}
	}
}

// TestAppendixA checks field key derivation and canonical paths against
// docs/dbesdk-format.md Appendix A.4.
func TestAppendixA(t *testing.T) {
	root, _ := hex.DecodeString("b9faaa808efa854c8f89c99c4523205b5588089bcbb800a57adaea402bbec9cd")
	key, nonce := fieldKey(root, 0)
	if got := hex.EncodeToString(append(key, nonce...)); got != "8f18e883fac10717fae8bf6945314d7267c5922f062ad029bc8c58613e6fd150"+"51576b15a42c6579b483b19b" {
		t.Errorf("keystream = %s", got)
	}
	if got := hex.EncodeToString(canonPath("GazelleVectorTable", "Junk")); got != "47617a656c6c65566563746f725461626c65"+"0000000000000001"+"24"+"0000000000000004"+"4a756e6b" {
		t.Errorf("canonPath = %s", got)
	}
	names := []string{"RecNum", "Stuff", "Junk", "😀", "éé"}
	sortFields(names)
	want := []string{"éé", "😀", "Junk", "Stuff", "RecNum"} // both length 2; then UTF-8 bytes
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("field order %q, want %q", names, want)
		}
	}
}
