package dbesdk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/internal/ddbjson"
	"github.com/ddbec/ddbec-go/internal/testvectors"
)

// malformedOnly fails t unless err is an *Error of kind KindMalformed: the
// parsers report nothing else.
func malformedOnly(t *testing.T, what string, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindMalformed {
		t.Fatalf("%s: error %v (%T), want a KindMalformed *Error", what, err, err)
	}
}

// FuzzParseHeader: parseHeader (docs/dbesdk-format.md §6.2, §6.3) never
// panics, fails only with KindMalformed, and whatever it accepts it writes
// back byte for byte (the layout has one serialization: strictly ascending
// context keys, one count byte per EDK list).
func FuzzParseHeader(f *testing.F) {
	for _, s := range testvectors.DBESDKSeeds(f, testvectors.DBESDKHeaderSeeds) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		h, err := parseHeader(raw)
		if err != nil {
			if h != nil {
				t.Fatalf("header returned with error %v", err)
			}
			malformedOnly(t, "parseHeader", err)
			return
		}
		switch {
		case h.version != 1 && h.version != 2, h.flavor > 1:
			t.Fatalf("accepted version %d flavor %d", h.version, h.flavor)
		case len(h.msgID) != msgIDLen, len(h.commit) != commitLen:
			t.Fatalf("message id %d bytes, commitment %d bytes", len(h.msgID), len(h.commit))
		case len(h.edks) == 0 || len(h.edks) > 255:
			t.Fatalf("accepted %d EDKs", len(h.edks))
		case !bytes.Equal(h.raw, raw) || !bytes.Equal(h.partial, raw[:len(raw)-commitLen]):
			t.Fatal("raw or partial header is not the input")
		}
		for _, c := range h.legend {
			if c != legendEncrypt && c != legendSign && c != legendContext {
				t.Fatalf("accepted legend byte %#x", c)
			}
		}
		if got := append(h.writePartial(), h.commit...); !bytes.Equal(got, raw) {
			t.Fatalf("accepted header does not write back:\n in  %x\n out %x", raw, got)
		}
	})
}

// terminalSeeds returns type id ‖ value of every attribute of every stored
// vector item, and of every value nested in their maps and lists, plus the
// encrypted values themselves.
func terminalSeeds(f *testing.F) [][]byte {
	var out [][]byte
	var walk func(av types.AttributeValue)
	walk = func(av types.AttributeValue) {
		if term, err := serialize(av); err == nil {
			out = append(out, term.bytes())
		}
		switch v := av.(type) {
		case *types.AttributeValueMemberM:
			for _, k := range slices.Sorted(func(yield func(string) bool) {
				for k := range v.Value {
					if !yield(k) {
						return
					}
				}
			}) {
				walk(v.Value[k])
			}
		case *types.AttributeValueMemberL:
			for _, e := range v.Value {
				walk(e)
			}
		}
	}
	for _, raw := range testvectors.DBESDKSeeds(f, testvectors.DBESDKItemSeeds) {
		item, err := ddbjson.UnmarshalItem(raw)
		if err != nil {
			f.Fatalf("vector item: %v", err)
		}
		for _, n := range slices.Sorted(func(yield func(string) bool) {
			for k := range item {
				if !yield(k) {
					return
				}
			}
		}) {
			walk(item[n])
		}
	}
	out = append(out, testvectors.DBESDKSeeds(f, testvectors.DBESDKValueSeeds)...)
	if len(out) == 0 {
		f.Fatal("no terminal seeds")
	}
	return out
}

// FuzzParseTerminal: parseTerminal (docs/dbesdk-format.md §2.8) of type id ‖
// value never panics and fails only with KindMalformed; a value it accepts
// that serializes again (numbers valid, §2.6) parses back to the same
// serialization, which is a fixed point.
func FuzzParseTerminal(f *testing.F) {
	for _, s := range terminalSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) < 2 {
			return
		}
		in := terminal{typ: binary.BigEndian.Uint16(raw), val: raw[2:]}
		v, err := parseTerminal(in)
		if err != nil {
			if v != nil {
				t.Fatalf("value returned with error %v", err)
			}
			malformedOnly(t, "parseTerminal", err)
			return
		}
		t1, err := serialize(v)
		if err != nil {
			return // a parsed NS element need not be a valid number
		}
		v2, err := parseTerminal(t1)
		if err != nil {
			t.Fatalf("serialization of a parsed value does not parse: %v\n in  %x\n out %x", err, raw, t1.bytes())
		}
		t2, err := serialize(v2)
		if err != nil || !bytes.Equal(t1.bytes(), t2.bytes()) {
			t.Fatalf("serialization is not a fixed point (%v):\n %x\n %x", err, t1.bytes(), t2.bytes())
		}
		// Inputs already in canonical form come back unchanged.
		if t1.typ != in.typ {
			t.Fatalf("type id %04x became %04x", in.typ, t1.typ)
		}
	})
}
