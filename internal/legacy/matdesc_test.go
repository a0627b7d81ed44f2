package legacy_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ddbec/ddbec-go/internal/legacy"
	"github.com/ddbec/ddbec-go/internal/testvectors"
)

func TestDescriptionVectors(t *testing.T) {
	root, err := testvectors.Root()
	if err != nil {
		t.Fatal(err)
	}
	vs, err := testvectors.MaterialDescriptionVectors(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("no material description vectors")
	}
	for i, v := range vs {
		if got := legacy.SerializeDescription(v.MaterialDescription); !bytes.Equal(got, v.Serialized) {
			t.Errorf("vector %d: Serialize = %x, want %x", i, got, []byte(v.Serialized))
		}
		got, err := legacy.ParseDescription(v.Serialized)
		if err != nil {
			t.Errorf("vector %d: Parse: %v", i, err)
		}
		if diff := cmp.Diff(v.MaterialDescription, got); diff != "" {
			t.Errorf("vector %d: Parse (-want +got):\n%s", i, diff)
		}
	}
	t.Logf("material_description.json: %d vectors passed", len(vs))
}

func TestParseDescriptionAnyOrderAndDuplicates(t *testing.T) {
	// B then A, then A again: any order, last value wins.
	b, _ := hex.DecodeString("00000000" + "00000001" + "42" + "00000001" + "32" + "00000001" + "41" + "00000001" + "31" + "00000001" + "41" + "00000001" + "33")
	got, err := legacy.ParseDescription(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"A": "3", "B": "2"}, got); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
}

func TestParseDescriptionErrors(t *testing.T) {
	cases := map[string]struct {
		hex  string
		want error
	}{
		"empty":            {"", legacy.ErrMalformedDescription},
		"short version":    {"000000", legacy.ErrMalformedDescription},
		"version 1":        {"00000001", legacy.ErrDescriptionVersion},
		"key without val":  {"00000000 00000001 41", legacy.ErrMalformedDescription},
		"length past end":  {"00000000 00000009 41", legacy.ErrMalformedDescription},
		"truncated length": {"00000000 0000", legacy.ErrMalformedDescription},
		"huge length":      {"00000000 ffffffff", legacy.ErrMalformedDescription},
		"invalid utf8":     {"00000000 00000001 ff 00000000", legacy.ErrMalformedDescription},
	}
	for name, c := range cases {
		b, err := hex.DecodeString(stripSpaces(c.hex))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := legacy.ParseDescription(b); !errors.Is(err, c.want) {
			t.Errorf("%s: Parse = %v, want %v", name, err, c.want)
		}
	}
}

func stripSpaces(s string) string {
	return string(bytes.ReplaceAll([]byte(s), []byte(" "), nil))
}

func FuzzParseDescription(f *testing.F) {
	for _, seed := range testvectors.Seeds(f, testvectors.MaterialDescriptionSeeds) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := legacy.ParseDescription(b)
		if err != nil {
			return
		}
		d2, err := legacy.ParseDescription(legacy.SerializeDescription(d))
		if err != nil {
			t.Fatalf("legacy.ParseDescription(legacy.SerializeDescription(d)): %v", err)
		}
		if diff := cmp.Diff(d, d2); diff != "" {
			t.Fatalf("round trip (-want +got):\n%s", diff)
		}
	})
}

func TestDecodeEnvelopeKey(t *testing.T) {
	want := bytes.Repeat([]byte{0xfb, 0xff, 0x01}, 40)
	for _, s := range []string{
		"+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B\r\n+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B",
		" +/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B\n+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B+/8B\t",
	} {
		got, err := legacy.DecodeEnvelopeKey(s)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("DecodeEnvelopeKey = %x, %v", got, err)
		}
	}
}
